"""``mvk train san``: registered, and bad arguments are named before any work starts."""

from mvk_tutorial.cli import build_parser, main


def test_train_san_is_registered():
    args = build_parser().parse_args(["train", "san", "--steps", "5"])
    assert args.steps == 5 and args.held_out == "jellyfish" and args.threads == 1


def test_bad_steps_are_named(capsys):
    assert main(["train", "san", "--steps", "0"]) != 0
    assert "--steps" in capsys.readouterr().err


def test_held_out_must_be_an_animal():
    import pytest
    import torch

    from mvk_tutorial.attention.train_san import training_labels

    with pytest.raises(ValueError, match="held_out"):
        training_labels(
            torch.zeros(1, 2, 2, dtype=torch.uint8), ["background", "cat"], "background"
        )
    y, names = training_labels(
        torch.tensor([[[0, 1], [2, 1]]], dtype=torch.uint8),
        ["background", "cat", "dog"],
        "cat",
    )
    assert names == ["background", "dog"]
    assert y.tolist() == [[[0, 255], [1, 255]]]
