"""The fast constructors build ordinary frozen instances: equal, hashable, picklable, immutable."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass

import pytest

from flows.relay.codec import decode_frame, encode_frame
from flows.relay.fastbuild import fast_builder
from flows.relay.header import Header

from .helpers import sample_tlvs

S = sample_tlvs()


@pytest.mark.parametrize("name", sorted(S))
def test_decoded_values_are_plain_frozen_instances(name: str) -> None:
    tlv = S[name]
    raw = encode_frame(4, 80, [tlv], sequence=1, timestamp_ns=1)
    frame = decode_frame(raw)
    (decoded,) = frame.tlvs
    for value, built in ((decoded, tlv), (frame.header, Header.unpack(raw))):
        assert type(value) is type(built)
        assert value == built
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, dataclasses.fields(value)[0].name, 1)
    hash(frame.header)
    assert dataclasses.replace(decoded) == tlv


def test_builder_refuses_classes_it_cannot_serve() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    with pytest.raises(TypeError, match="slotted dataclass"):
        fast_builder(NoSlots)
