"""match@1: a truck counts when the real matcher ranks its own record first, alone, among
decoy records in a real store."""

from __future__ import annotations

from drivers.plates.match_bench import Truck, _records, match_at_1
from edge.plate_formats import match_formats
from edge.plates import canonical_key
from edge.readings import PlateCandidate
from edge.timeutil import utcnow


def _truck(plate: str, *reads: tuple[str, float]) -> Truck:
    return Truck(plate, tuple(PlateCandidate(text, confidence) for text, confidence in reads))


def test_match_at_1_counts_the_own_record_first_and_alone() -> None:
    trucks = [
        _truck("777ABC02", ("777 ABC 02", 0.9)),  # read right: a hit
        _truck("01A123BC"),  # nothing read: no candidate, a miss
        _truck("А123ВС77", ("E 555 KX 99", 0.8)),  # read as another truck's plate: a miss
        _truck("Е555КХ99", ("E555KX99", 0.7)),  # Cyrillic on the record, Latin read: a hit
        # two records fit its reads equally: the officer must choose, a miss
        _truck("1234УБӨ", ("1234 УБӨ", 0.6), ("新A·12345", 0.6)),
        _truck("新A12345", ("新A·12345", 0.95)),  # a hit
    ]
    figures, outcomes = match_at_1(trucks, cache_size=200, seed=1)
    assert [o.hit for o in outcomes] == [True, False, False, True, False, True]
    assert figures["match_at_1"] == 0.5
    assert figures["cache_records"] == 206
    assert figures["no_candidate"] == 1
    assert outcomes[1].first is None
    assert canonical_key(outcomes[2].first or "") == canonical_key("Е555КХ99")


def test_a_plate_labelled_on_two_frames_has_one_record_and_both_frames_hit() -> None:
    trucks = [_truck("077OOO16", ("077 OOO 16", 0.8)), _truck("077OOO16", ("077OOO16", 0.5))]
    figures, outcomes = match_at_1(trucks, cache_size=50, seed=1)
    assert figures["cache_records"] == 51
    assert all(o.hit for o in outcomes)


def test_decoys_are_plausible_corridor_plates_and_never_a_labelled_one() -> None:
    trucks = [_truck("777ABC02"), _truck("А123ВС77")]
    due = utcnow().replace(second=0, microsecond=0)
    own, records = _records(trucks, 500, 7, due)
    decoys = records[:500]
    assert all(match_formats(r.transport.plate) for r in decoys), "a decoy of no format"
    labelled = {canonical_key(t.plate) for t in trucks}
    plates = {canonical_key(p) for r in decoys for _, p in r.plates()}
    assert not plates & labelled
    assert {r.expected_arrival for r in records} == {due}  # the time favours no record
    assert len({r.ref for r in records}) == 502
    # seeded: the same decoys every time
    assert [r.transport.plate for r in _records(trucks, 500, 7, due)[1]] == [
        r.transport.plate for r in records
    ]
    assert set(own) == labelled
