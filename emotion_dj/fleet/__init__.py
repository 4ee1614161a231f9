"""Many cameras on Ray: per-camera actors running the single app's frame path, one batched model service (Ray
Serve) for all of them, and one mood per room. Needs the `fleet` extra; nothing outside this package imports it."""
