"""AlphaPulse Protocol V2 as pulsearb speaks it: codec, stream framing, relay client and server, capture/replay.

Pure codec (no I/O): ``protocol`` (enums, InstrumentId), ``header``, ``tlv`` (one dataclass per layout), ``codec``
(``encode_frame``/``decode_frame``), ``jsonform``, ``framing`` (``Framer``), ``subscription``, ``capture`` (file
format). I/O: ``client`` (``RelayClient``, ``RelayProducer``), ``server`` (``RelayServer``), ``playback`` (record,
replay). Nothing here imports Kafka, Bytewax, web3 or ClickHouse. Wire format: docs/protocol.md.
"""
