"""Music, beside the frame path: the room's mood as a point, the listener's taste, playlists, the store, the DJ
(docs/MUSIC.md, docs/DJ.md). Depends on emotion_dj.core only."""
