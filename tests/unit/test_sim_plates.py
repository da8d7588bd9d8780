"""The synthetic plate generator: every country's plate renders in its layout, on one line or
two; training crops carry labels in the recogniser's convention; scenes and datasets put the
plate where their annotations say; the same seed gives the same images."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.sim.camera import road
from drivers.sim.plate_render import draw_plate, split_lines
from drivers.sim.plates import (
    PLATE_CHARSET,
    degrade,
    plate_label,
    read_annotation,
    render_plate,
    render_scene,
    training_crop,
    write_dataset,
)
from edge.cli import main
from edge.plate_formats import (
    FORMATS,
    MONGOLIAN,
    VISITOR_FORMATS,
    PlateFormat,
    formats_for,
    visitor_formats_for,
)
from edge.transliteration import CYRILLIC_LOOKALIKES

COUNTRIES = sorted({fmt.country for fmt in FORMATS})
VISITORS = sorted({fmt.country for fmt in VISITOR_FORMATS})


def fmt_named(name: str) -> PlateFormat:
    return next(fmt for fmt in FORMATS if fmt.name == name)


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


# -- the flat plate ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.name)
@pytest.mark.parametrize("two_line", [False, True], ids=["one-line", "two-line"])
def test_every_format_renders_its_plate_with_legible_contrast(
    fmt: PlateFormat, two_line: bool
) -> None:
    rng = random.Random(1)
    plate = render_plate(fmt.random_plate(rng), fmt, rng, two_line=two_line)
    height, width = plate.shape[:2]
    assert plate.dtype == np.uint8
    assert plate.shape[2] == 3
    if two_line:
        assert 1.2 < width / height < 2.1  # a square plate
    else:
        assert width / height > 3  # a long plate
    middle = grey(plate)[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4]
    assert int(middle.max()) - int(middle.min()) > 120  # characters stand out from the plate


def test_cyrillic_and_han_characters_are_drawn_not_boxes() -> None:
    mn, cn = fmt_named("MN"), fmt_named("CN trailer (GA 36)")
    for fmt, text, other in ((mn, "1234 УБӨ", "1234 УБҮ"), (cn, "新A·1234挂", "京A·1234挂")):
        a = render_plate(text, fmt, random.Random(5), two_line=False)
        b = render_plate(other, fmt, random.Random(5), two_line=False)
        assert a.shape == b.shape
        assert np.abs(a.astype(int) - b.astype(int)).sum() > 0, text


def test_a_character_no_font_has_is_refused_not_drawn_as_a_box() -> None:
    with pytest.raises(ValueError, match="no glyph"):
        render_plate("777 कBC 02", fmt_named("KZ private (2012)"), random.Random(0))


def test_chinese_trailer_plates_are_yellow_with_black_characters() -> None:
    rng = random.Random(2)
    fmt = fmt_named("CN trailer (GA 36)")
    for _ in range(5):
        plate = render_plate(fmt.random_plate(rng), fmt, rng)
        blue, green, red = np.median(plate.reshape(-1, 3), axis=0)
        assert red > 200
        assert green > 150
        assert blue < 100
        assert (grey(plate) < 60).mean() > 0.05


def test_chinese_vehicle_plates_come_blue_for_cars_and_yellow_for_trucks() -> None:
    rng = random.Random(3)
    fmt = fmt_named("CN (GA 36)")
    colours = set()
    for _ in range(30):
        blue, _, red = np.median(render_plate("新A·12345", fmt, rng).reshape(-1, 3), axis=0)
        colours.add("blue" if blue > red else "yellow")
    assert colours == {"blue", "yellow"}


@pytest.mark.parametrize(
    ("name", "text", "lines"),
    [
        ("CN trailer (GA 36)", "新A·1234挂", ("新A", "1234挂")),
        ("CN (GA 36)", "新A·12345", ("新A", "12345")),
        ("RU (GOST R 50577)", "А 123 ВС 77", ("А 123", "ВС 77")),
        ("KZ trailer", "02 1234 AB", ("02", "1234 AB")),
        ("MN", "1234 УБӨ", ("1234", "УБӨ")),
    ],
)
def test_square_plates_split_into_lines_at_a_separator(
    name: str, text: str, lines: tuple[str, str]
) -> None:
    assert split_lines(text, fmt_named(name)) == lines


def test_degrading_is_mild_when_clean_and_strong_when_hard() -> None:
    fmt = fmt_named("KZ private (2012)")
    plate = render_plate("777 ABC 02", fmt, random.Random(0), two_line=False)

    def change(strength: float, seed: int) -> float:
        out = degrade(plate, random.Random(seed), strength=strength)
        assert out.shape == plate.shape
        return float(np.abs(out.astype(int) - plate.astype(int)).mean())

    assert all(change(0.0, seed) < 3 for seed in range(3))
    assert all(change(1.0, seed) > 10 for seed in range(3))


# -- labels and crops --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "label"),
    [
        ("А 123 ВС 77", "A123BC77"),  # Russian: every letter has a Latin twin
        ("1234 УБӨ", "1234YБӨ"),  # Mongolian: У has a twin, Б and Ө do not
        ("新A·1234挂", "新A1234挂"),
        ("10-AB-123", "10AB123"),
        ("777 abc 02", "777ABC02"),
    ],
)
def test_labels_drop_separators_and_write_look_alikes_in_latin(written: str, label: str) -> None:
    assert plate_label(written) == label


def test_the_charset_holds_every_label_character_and_no_look_alike() -> None:
    assert len(set(PLATE_CHARSET)) == len(PLATE_CHARSET)
    assert set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") <= set(PLATE_CHARSET)
    assert set("ӨҮБГДЖЗИЛПФЦЧШЭЮЯ") <= set(PLATE_CHARSET)
    assert {"新", "京", "挂"} <= set(PLATE_CHARSET)
    assert not set(CYRILLIC_LOOKALIKES) & set(PLATE_CHARSET)
    assert not set(" ·-.") & set(PLATE_CHARSET)
    no_twin = {ch for ch in MONGOLIAN if ch not in CYRILLIC_LOOKALIKES}
    assert {ch for ch in PLATE_CHARSET if "\u0400" <= ch <= "\u04ff"} == no_twin


@pytest.mark.parametrize("country", COUNTRIES)
def test_training_crops_are_grey_lines_labelled_as_a_plate_of_their_country(country: str) -> None:
    rng = random.Random(country)
    formats = formats_for(country)
    for _ in range(20):
        crop, label = training_crop(rng, height=32, formats=formats)
        assert crop.dtype == np.uint8
        assert crop.ndim == 2
        assert crop.shape[0] == 32
        assert crop.shape[1] > 64  # a line of characters, wider than tall
        assert set(label) <= set(PLATE_CHARSET)
        assert any(fmt.fits(label) for fmt in formats), label
        assert crop.std() > 10  # something legible, not a flat field


def test_a_two_line_plate_becomes_one_line_of_its_two_lines_side_by_side() -> None:
    fmt = fmt_named("KZ trailer")
    one, _ = training_crop(random.Random(4), formats=[fmt], two_line=False, strength=0)
    two, label = training_crop(random.Random(4), formats=[fmt], two_line=True, strength=0)
    assert one.shape[1] / one.shape[0] > 3
    # A square plate cut in two lines, laid side by side, is far wider than the square itself.
    assert two.shape[1] / two.shape[0] > 5
    assert fmt.fits(label)


def test_crops_can_be_asked_for_at_other_heights() -> None:
    crop, _ = training_crop(random.Random(0), height=48)
    assert crop.shape[0] == 48


def test_the_same_seed_gives_the_same_crops_and_another_seed_others() -> None:
    def crops(seed: int) -> list[tuple[bytes, str]]:
        rng = random.Random(seed)
        return [(c.tobytes(), label) for c, label in (training_crop(rng) for _ in range(10))]

    assert crops(7) == crops(7)
    assert crops(7) != crops(8)


# -- scenes and datasets -----------------------------------------------------------------------


def inside_and_around(frame: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frame's grey pixels inside `quad`, shrunk a little, and in a ring just outside."""
    image = grey(frame)
    centre = quad.mean(axis=0)
    inner, outer = (np.zeros(image.shape, np.uint8) for _ in range(2))
    cv2.fillPoly(inner, [np.round(centre + (quad - centre) * 0.9).astype(np.int32)], 1)
    cv2.fillPoly(outer, [np.round(centre + (quad - centre) * 1.25).astype(np.int32)], 1)
    cv2.fillPoly(outer, [np.round(quad).astype(np.int32)], 0)
    return image[inner > 0], image[outer > 0]


@pytest.mark.parametrize("seed", range(4))
def test_the_scene_quad_is_where_the_white_plate_is(seed: int) -> None:
    rng = random.Random(seed)
    fmt = fmt_named("KZ private (2012)")
    frame, quad = render_scene(fmt.random_plate(rng), fmt, rng, strength=0, two_line=False)
    assert frame.shape == (720, 1280, 3)
    assert quad.shape == (4, 2)
    assert quad.dtype == np.float32
    width = quad[:, 0].max() - quad[:, 0].min()
    assert 100 < width < 330
    assert (quad >= 0).all()
    assert (quad < (1280, 720)).all()
    inside, around = inside_and_around(frame, quad)
    assert np.median(inside) > 170  # the white plate
    assert (inside < 90).mean() > 0.05  # its black characters
    assert np.median(around) < np.median(inside) - 50  # the truck around it is not the plate


def test_scenes_scale_the_plate_with_the_frame() -> None:
    rng = random.Random(9)
    fmt = fmt_named("RU (GOST R 50577)")
    frame, quad = render_scene(fmt.random_plate(rng), fmt, rng, (640, 360))
    assert frame.shape == (360, 640, 3)
    assert 50 < quad[:, 0].max() - quad[:, 0].min() < 165


def test_the_same_seed_gives_the_same_scene() -> None:
    fmt = fmt_named("CN (GA 36)")
    a = render_scene("新A·12345", fmt, random.Random(3), (640, 360), strength=1)
    b = render_scene("新A·12345", fmt, random.Random(3), (640, 360), strength=1)
    assert np.array_equal(a[0], b[0])
    assert np.array_equal(a[1], b[1])


@pytest.mark.parametrize("country", ["MN", "RU", "CN"])
def test_the_dataset_pairs_each_image_with_the_box_and_the_plate_as_written(
    tmp_path: Path, country: str
) -> None:
    size = (640, 360)
    images = write_dataset(tmp_path, country, 4, seed=1, size=size)
    assert len(images) == 4
    assert sorted(tmp_path.glob("*.txt")) == sorted(p.with_suffix(".txt") for p in images)
    empty = grey(road(size))
    for image in images:
        note = read_annotation(image.with_suffix(".txt"))
        assert note.image == image.name
        assert any(fmt.fits(note.plate) for fmt in formats_for(country))
        assert note.plate == "".join(ch for ch in note.plate if ch.isalnum())
        if country != "CN":
            assert not note.plate.isascii()  # Cyrillic as on the plate
        frame = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
        assert frame.shape == (size[1], size[0])
        assert min(note.x, note.y) >= 0
        assert note.x + note.width <= size[0]
        assert note.y + note.height <= size[1]
        assert 50 < note.width < 170
        box = (slice(note.y, note.y + note.height), slice(note.x, note.x + note.width))
        region = frame[box].astype(int)
        assert np.abs(region - empty[box]).mean() > 20  # something stands where the road was
        assert np.percentile(region, 95) - np.percentile(region, 5) > 50  # a plate's contrast


def test_the_same_seed_writes_the_same_dataset(tmp_path: Path) -> None:
    a = write_dataset(tmp_path / "a", "KZ", 2, seed=3, size=(320, 180))
    b = write_dataset(tmp_path / "b", "KZ", 2, seed=3, size=(320, 180))
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes()
        assert x.with_suffix(".txt").read_text() == y.with_suffix(".txt").read_text()


def test_an_unknown_country_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"XX.*KZ.*visitor.*TR"):
        write_dataset(tmp_path, "XX", 1, seed=0)


def test_the_cli_writes_the_pairs_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "mn"
    args = ["sim", "plates", "--country", "MN", "--count", "3", "--seed", "1"]
    assert main([*args, "--out", str(out), "--size", "320x180"]) == 0
    images, notes = sorted(out.glob("*.jpg")), sorted(out.glob("*.txt"))
    assert len(images) == len(notes) == 3
    assert [p.stem for p in images] == [p.stem for p in notes]
    assert all(read_annotation(p).plate for p in notes)


def test_the_cli_refuses_an_unknown_country(tmp_path: Path) -> None:
    args = ["sim", "plates", "--country", "XX", "--count", "1", "--out", str(tmp_path)]
    assert main(args) == 2
    assert not list(tmp_path.glob("*.jpg"))


# -- visitors: the European layouts ------------------------------------------------------------


def band_of(plate: np.ndarray) -> np.ndarray:
    """The left tenth of a long plate, inside its border: where the country band is."""
    height, width = plate.shape[:2]
    return plate[height // 10 : -height // 10, width // 100 : width // 10]


def share(pixels: np.ndarray, r: tuple[int, int], g: tuple[int, int], b: tuple[int, int]) -> float:
    """The share of `pixels` (BGR) whose red, green and blue lie in the ranges given."""
    blue, green, red = (pixels[..., i].astype(int) for i in range(3))
    inside = (
        (r[0] <= red)
        & (red <= r[1])
        & (g[0] <= green)
        & (green <= g[1])
        & (b[0] <= blue)
        & (blue <= b[1])
    )
    return float(inside.mean())


def blue_band(band: np.ndarray) -> float:
    return share(band, (0, 40), (20, 90), (120, 190))


def yellow(band: np.ndarray) -> float:
    return share(band, (200, 255), (170, 230), (0, 80))


@pytest.mark.parametrize("fmt", VISITOR_FORMATS, ids=lambda fmt: fmt.name)
def test_visitor_plates_are_long_white_plates_with_black_characters(fmt: PlateFormat) -> None:
    for seed in range(5):
        rng = random.Random(seed)
        rendered = draw_plate(fmt.random_plate(rng), fmt, rng)  # one line or two, as issued
        plate = rendered.image
        height, width = plate.shape[:2]
        assert len(rendered.lines) == 1
        assert width / height > 4
        text = grey(plate)[height // 5 : -height // 5, width // 8 : -width // 50]
        assert np.percentile(text, 75) > 200  # white, between the characters
        assert (text < 60).mean() > 0.1  # black characters


@pytest.mark.parametrize(
    ("country", "band", "stars", "flag"),
    [
        ("LT", "blue", True, None),
        ("PL", "blue", True, None),
        ("DE", "blue", True, None),
        ("TR", "blue", False, None),  # Turkey's blue band has no EU stars
        ("GE", "blue", False, "red"),
        ("UA", "blue", False, "yellow"),
        ("BY", "white", False, "red"),
    ],
)
def test_visitor_plates_carry_their_country_band(
    country: str, band: str, stars: bool, flag: str | None
) -> None:
    (fmt, *_) = visitor_formats_for(country)
    strip = band_of(render_plate(fmt.example, fmt, random.Random(0)))
    top = strip[: strip.shape[0] // 2]
    if band == "blue":
        assert blue_band(strip) > 0.5
    else:
        assert np.median(grey(strip)) > 200
    assert (yellow(top) > 0.03) == (stars or flag == "yellow")
    reds = share(top, (180, 255), (0, 80), (0, 90))
    assert (reds > 0.03) == (flag == "red")


@pytest.mark.parametrize("fmt", VISITOR_FORMATS, ids=lambda fmt: fmt.name)
def test_each_visitor_format_renders_on_a_truck_where_its_quad_says(fmt: PlateFormat) -> None:
    rng = random.Random(fmt.name)
    frame, quad = render_scene(fmt.random_plate(rng), fmt, rng, strength=0)
    assert frame.shape == (720, 1280, 3)
    assert (quad >= 0).all()
    assert (quad < (1280, 720)).all()
    inside, around = inside_and_around(frame, quad)
    assert np.median(inside) > 150  # the white plate
    assert (inside < 90).mean() > 0.05  # its black characters and its band
    assert np.median(around) < np.median(inside) - 50


@pytest.mark.parametrize("country", VISITORS)
def test_a_visitor_dataset_labels_each_image_with_its_plate_as_written(
    tmp_path: Path, country: str
) -> None:
    size = (640, 360)
    images = write_dataset(tmp_path, country, 3, seed=1, size=size)
    assert len(images) == 3
    for image in images:
        note = read_annotation(image.with_suffix(".txt"))
        assert note.image == image.name
        assert any(fmt.fits(note.plate) for fmt in visitor_formats_for(country)), note.plate
        assert not any(fmt.fits(note.plate) for fmt in FORMATS if fmt.name != "AZ (2011)")
        assert note.plate.isascii() == (country != "UA")  # Ukraine's letters are Cyrillic
        frame = cv2.imread(str(image))
        assert frame.shape == (size[1], size[0], 3)
        assert min(note.x, note.y) >= 0
        assert note.x + note.width <= size[0]
        assert note.y + note.height <= size[1]
        assert 50 < note.width < 170


def test_the_cli_writes_a_visitor_set(tmp_path: Path) -> None:
    out = tmp_path / "tr"
    args = ["sim", "plates", "--country", "TR", "--count", "2", "--seed", "1"]
    assert main([*args, "--out", str(out), "--size", "320x180"]) == 0
    notes = sorted(out.glob("*.txt"))
    assert [p.stem for p in notes] == ["tr-1-00000", "tr-1-00001"]
    assert all(
        any(f.fits(read_annotation(p).plate) for f in visitor_formats_for("TR")) for p in notes
    )
