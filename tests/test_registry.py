import pytest

from config import SECTIONS
from train import TRAINER_REGISTRY
from train.base_trainer import Trainer
from utils.errors import RegistryError
from utils.registry import Registry


@pytest.fixture
def reg():
    r = Registry("trainer", suffix="Trainer")

    @r.register
    class TransformerTrainer:
        pass

    @r.register
    class ModelAutoEncoderTrainer:
        pass

    @r.register(name="toy_thing")
    class Other:
        pass

    return r


@pytest.mark.parametrize("name", ["transformer", "TransformerTrainer", "TRANSFORMERtrainer", "transformer_trainer"])
def test_lookup_is_case_insensitive_and_suffix_optional(reg, name):
    assert reg.get(name).__name__ == "TransformerTrainer"


def test_explicit_name_and_contains(reg):
    assert reg.get("TOY_THING").__name__ == "Other"
    assert "toything" in reg and "nothing" not in reg
    assert len(reg) == 3


def test_duplicate_registration_is_an_error(reg):
    with pytest.raises(RegistryError, match="already registered"):

        @reg.register
        class Transformer:  # same key as TransformerTrainer once the suffix is dropped
            pass


def test_unknown_name_lists_registered_and_closest(reg):
    with pytest.raises(RegistryError) as err:
        reg.get("transfromer")
    msg = str(err.value)
    assert "did you mean 'TransformerTrainer'" in msg
    assert "ModelAutoEncoderTrainer" in msg and "toy_thing" in msg
    assert "\n" not in msg


def test_list_with_wildcards(reg):
    assert reg.list() == sorted(["TransformerTrainer", "ModelAutoEncoderTrainer", "toy_thing"])
    assert reg.list("*auto*") == ["ModelAutoEncoderTrainer"]
    assert reg.list("trans*") == ["TransformerTrainer"]
    assert reg.list("nomatch*") == []


@pytest.mark.parametrize("name", TRAINER_REGISTRY.list())
def test_every_registered_trainer_is_complete(name):
    cls = TRAINER_REGISTRY.get(name)
    assert issubclass(cls, Trainer)
    assert cls.__doc__ and cls.__doc__.strip(), "train.py --list shows the first docstring line"
    assert SECTIONS.get(cls.config_class.SECTION) is cls.config_class
    assert cls.name != Trainer.name
