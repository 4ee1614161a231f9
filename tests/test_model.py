import pytest
import torch

from emotion_dj.train.model import CustomDeepEmotionNet, DeployableEmotionNet, count_parameters


@pytest.mark.parametrize("size", [48, 64, 128])
def test_logits_shape_for_each_input_size(size):
    model = CustomDeepEmotionNet(img_size=size).eval()
    assert model(torch.randn(3, 1, size, size)).shape == (3, 7)


def test_parameter_count_of_the_default_network():
    # 5 blocks of 2 convs (48, 96, 192, 256, 320 channels) + BN + a 320x7 head; independent of input size.
    assert count_parameters(CustomDeepEmotionNet(48)) == count_parameters(CustomDeepEmotionNet(128)) == 3_340_215


def test_five_blocks_and_global_average_pooling():
    model = CustomDeepEmotionNet(48)
    assert len(model.features) == 5
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.modules()) == 4
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linear) == 1 and linear[0].in_features == 320


@pytest.mark.parametrize("bad", [dict(img_size=40), dict(widths=(8, 8, 8))])
def test_bad_constructor_arguments(bad):
    with pytest.raises(ValueError):
        CustomDeepEmotionNet(**bad)


def test_deployable_takes_uint8_and_returns_probabilities():
    net = DeployableEmotionNet(CustomDeepEmotionNet(48).eval(), mean=0.5, std=0.3, temperature=1.5).eval()
    probs = net(torch.randint(0, 256, (4, 1, 48, 48), dtype=torch.uint8))
    assert probs.dtype == torch.float32 and torch.allclose(probs.sum(1), torch.ones(4))
