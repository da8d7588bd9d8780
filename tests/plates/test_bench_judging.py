"""How the plate bench judges a read against its label: separators and the script of look-alike
letters do not count, every other character does."""

from __future__ import annotations

from drivers.plates.bench import is_right, labels_write_o_as_zero
from drivers.plates.ranking import plate_key


def test_spacing_and_look_alike_scripts_are_no_miss() -> None:
    assert is_right("Е014СХ86", plate_key("E 014 CX 86"))  # Cyrillic label, Latin read
    assert is_right("А049УЕ89", plate_key("A049YE89"))
    assert is_right("皖AF8R11", plate_key("皖A·F8R11"))
    assert is_right("3386УБТ", plate_key("3386 убт"))


def test_a_wrong_character_is_a_miss() -> None:
    assert not is_right("3386УБТ", plate_key("3386YБT6"))  # one too many
    assert not is_right("1217УӨЕ", plate_key("1217YOE"))  # Ө is no O
    assert not is_right("皖AF8R11", plate_key("苏AF8R11"))  # another province
    assert not is_right("077OOO16", plate_key("07700016"))  # a digit for a letter
    assert not is_right("4PCI264", plate_key("4PC1264"))


def test_o_and_0_are_one_only_on_a_set_labelled_so() -> None:
    assert labels_write_o_as_zero(["0SG719", "4PCI264", "CEMENT0"])
    assert not labels_write_o_as_zero(["077OOO16", "341CM02"])  # a Kazakh O
    assert not labels_write_o_as_zero(["К834ОТ22"])  # a Cyrillic О is an O
    assert not labels_write_o_as_zero(["4PCI264"])  # no 0 either: nothing to tell
    assert not labels_write_o_as_zero(["3386УБТ", "1207УНӨ"])  # Mongolian: no Latin O at all
    assert not labels_write_o_as_zero(["皖A0R118"])
    assert is_right("0SG719", "OSG719", o_as_zero=True)
    assert not is_right("0SG719", "OSG719")
    assert not is_right("4PCI264", "4PC1264", o_as_zero=True)  # I and 1 stay two
