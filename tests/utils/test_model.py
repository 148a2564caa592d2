"""``lighter.utils.model``: the original Lighter's model helpers, from Python and from a config."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lighter.config import ConfigParser
from lighter.errors import ConfigError
from lighter.utils.model import (
    adjust_prefix_and_load_state_dict,
    remove_n_last_layers_sequentially,
    replace_layer_with,
    replace_layer_with_identity,
)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 3))
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.backbone(x))


@pytest.fixture
def pretrained(tmp_path):
    """A Net trained elsewhere, saved both as a plain state dict and as a lighter run's checkpoint."""
    torch.manual_seed(0)
    net = Net()
    torch.save(net.state_dict(), tmp_path / "net.pt")
    lightning = {"state_dict": {f"model.{k}": v for k, v in net.state_dict().items()}, "epoch": 3}
    torch.save(lightning, tmp_path / "run.ckpt")
    return net, tmp_path


def test_replace_layer_by_dotted_name():
    net = Net()
    new = nn.Linear(3, 3)
    assert replace_layer_with(net, "backbone.2", new) is net
    assert net.backbone[2] is new
    replace_layer_with_identity(net, "head")
    assert isinstance(net.head, nn.Identity)
    assert net(torch.ones(1, 4)).shape == (1, 3)


def test_replace_a_missing_layer_names_the_closest():
    with pytest.raises(ConfigError, match=r"^Net has no layer 'haed' \(did you mean 'head'\?\)$"):
        replace_layer_with_identity(Net(), "haed")
    with pytest.raises(ConfigError, match=r"^Net has no layer 'backbone.7'"):
        replace_layer_with(Net(), "backbone.7.weight", nn.Identity())


def test_remove_last_layers():
    seq = remove_n_last_layers_sequentially(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)), 2)
    assert isinstance(seq, nn.Sequential) and len(seq) == 1
    assert len(remove_n_last_layers_sequentially(Net())) == 1  # default: the last one
    with pytest.raises(ConfigError, match="cannot remove 2 of the 2 top-level layers of Net"):
        remove_n_last_layers_sequentially(Net(), num_layers=2)


@pytest.mark.parametrize("name", ["net.pt", "run.ckpt"], ids=["plain-state-dict", "lightning-checkpoint"])
def test_load_a_backbone_into_a_standalone_model(pretrained, name):
    net, folder = pretrained
    backbone = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 3))
    loaded = adjust_prefix_and_load_state_dict(backbone, folder / name, {"backbone": ""})
    assert loaded is backbone
    assert torch.equal(backbone[0].weight, net.backbone[0].weight)


def test_load_a_whole_checkpoint_under_a_prefix_and_ignore_a_layer(pretrained):
    net, folder = pretrained

    class Bigger(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Net()
            self.extra = nn.Linear(2, 2)

    bigger = Bigger()
    untouched = bigger.encoder.head.weight.clone()
    adjust_prefix_and_load_state_dict(bigger, folder / "net.pt", {"": "encoder"}, ["encoder.head.weight"])
    assert torch.equal(bigger.encoder.backbone[2].bias, net.backbone[2].bias)
    assert torch.equal(bigger.encoder.head.weight, untouched)  # ignored
    assert torch.equal(bigger.encoder.head.bias, net.head.bias)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda m, f: adjust_prefix_and_load_state_dict(m, f / "net.pt", {"bakbone": ""}),
            r"^ckpt_to_model_prefix: no key of checkpoint '.*net.pt' starts with 'bakbone.'; it has "
            r"'backbone.0.weight', 'backbone.0.bias', 'backbone.2.weight', 'backbone.2.bias', 'head.weight' … "
            r"\(6 in all\) \(did you mean 'backbone'\?\)$",
            id="prefix-matching-nothing",
        ),
        pytest.param(
            lambda m, f: adjust_prefix_and_load_state_dict(m, f / "net.pt", layers_to_ignore=["head.wieght"]),
            r"^layers_to_ignore: the checkpoint '.*' has no key 'head.wieght' \(after renaming\) "
            r"\(did you mean 'head.weight'\?\)$",
            id="ignoring-a-missing-key",
        ),
        pytest.param(
            lambda m, f: adjust_prefix_and_load_state_dict(nn.Linear(3, 3), f / "net.pt"),
            r"^no weight of checkpoint '.*' fits Linear: the checkpoint has 'backbone.0.weight'",
            id="nothing-fits",
        ),
        pytest.param(
            lambda m, f: adjust_prefix_and_load_state_dict(m, f / "missing.pt"),
            r"^checkpoint '.*missing.pt' does not exist$",
            id="missing-file",
        ),
    ],
)
def test_load_mistakes_are_clear(pretrained, call, message):
    with pytest.raises(ConfigError, match=message):
        call(Net(), pretrained[1])


def test_checkpoint_with_pickled_code_is_refused(tmp_path):
    torch.save({"state_dict": {"w": torch.ones(1)}, "opt": nn.Linear(1, 1)}, tmp_path / "full.ckpt")
    with pytest.raises(
        ConfigError, match=r"^cannot read checkpoint '.*full.ckpt' as weights: UnpicklingError"
    ):
        adjust_prefix_and_load_state_dict(nn.Linear(1, 1), tmp_path / "full.ckpt")


def test_from_a_config_as_target_and_as_expression(pretrained):
    net, folder = pretrained
    parser = ConfigParser(
        {
            "backbone": {
                "_target_": "lighter.utils.model.adjust_prefix_and_load_state_dict",
                "model": {"_target_": "tests.utils.test_model.Net"},
                "ckpt_path": str(folder / "run.ckpt"),
            },
            "_requires_": "$import lighter",
            "headless": "$lighter.utils.model.replace_layer_with_identity(@backbone, 'head')",
        }
    )
    headless = parser.get_parsed_content("headless")
    assert isinstance(headless.head, nn.Identity)
    assert torch.equal(headless.backbone[0].weight, net.backbone[0].weight)


def test_a_mistake_from_a_config_is_located(pretrained):
    parser = ConfigParser(
        {
            "model": {
                "_target_": "lighter.utils.model.adjust_prefix_and_load_state_dict",
                "model": {"_target_": "torch.nn.Linear", "in_features": 4, "out_features": 3},
                "ckpt_path": str(pretrained[1] / "net.pt"),
                "ckpt_to_model_prefix": {"encoder": ""},
            }
        }
    )
    with pytest.raises(ConfigError) as caught:
        parser.get_parsed_content("model")
    assert str(caught.value).startswith("@ model: ckpt_to_model_prefix: no key of checkpoint")  # its id


# --- the example of docs/fine_tuning.md, run as written ---------------------------------------------


def _page_blocks(lang: str) -> list[str]:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "fine_tuning.md").read_text()
    return [part.split("\n```", 1)[0] for part in text.split(f"```{lang}\n")[1:]]


def test_the_documented_fine_tuning_example(tmp_path, monkeypatch):
    import lighter

    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiment.yaml").write_text(_page_blocks("yaml")[0])
    torch.manual_seed(1)
    first = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))  # the first run's network
    (tmp_path / "pretrained").mkdir()
    saved = {"state_dict": {f"model.{k}": v for k, v in first.state_dict().items()}, "epoch": 9}
    torch.save(saved, tmp_path / "pretrained" / "last.ckpt")

    model = lighter.load("experiment.yaml", stage="fit").system.model
    assert torch.equal(model[0][0].weight, first[0].weight)  # the backbone got the pretrained layer
    assert torch.equal(model[0][0].bias, first[0].bias)
    assert model[1].out_features == 2  # and the new head is its own

    with pytest.raises(ConfigError) as caught:
        _ = lighter.load("experiment.yaml", ['--system#model#ckpt_to_model_prefix={"backbone": ""}']).system
    documented = _page_blocks("text")[0].strip()
    assert str(caught.value).splitlines()[0] == documented
