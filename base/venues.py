"""AlphaPulse venue ids (the types crate's ``instrument/venues.rs`` numbering), shared by the relay codec and the
archive, which names venues in its views. :mod:`flows.relay.protocol` re-exports :class:`VenueId` with the rest of
the protocol's vocabulary."""

from __future__ import annotations

from enum import IntEnum


class VenueId(IntEnum):
    """Trading venue (u16), types-crate numbering (``instrument/venues.rs``)."""

    GENERIC = 0
    NYSE = 1
    NASDAQ = 2
    LSE = 3
    TSE = 4
    HKEX = 5
    BINANCE = 100
    KRAKEN = 101
    COINBASE = 102
    HUOBI = 103
    OKEX = 104
    FTX = 105
    BYBIT = 106
    KUCOIN = 107
    GEMINI = 108
    ETHEREUM = 200
    BITCOIN = 201
    POLYGON = 202
    BSC = 203
    AVALANCHE = 204
    FANTOM = 205
    ARBITRUM = 206
    OPTIMISM = 207
    SOLANA = 208
    CARDANO = 209
    POLKADOT = 210
    COSMOS = 211
    UNISWAP_V2 = 300
    UNISWAP_V3 = 301
    SUSHISWAP = 302
    CURVE = 303
    BALANCER = 304
    AAVE = 305
    COMPOUND = 306
    MAKERDAO = 307
    YEARN = 308
    SYNTHETIX = 309
    DYDX = 310
    QUICKSWAP = 400
    SUSHISWAP_POLYGON = 401
    CURVE_POLYGON = 402
    AAVE_POLYGON = 403
    BALANCER_POLYGON = 404
    PANCAKESWAP = 500
    VENUS_PROTOCOL = 501
    UNISWAP_V3_ARBITRUM = 600
    SUSHISWAP_ARBITRUM = 601
    CURVE_ARBITRUM = 602
    DERIBIT = 700
    BYBIT_DERIVATIVES = 701
    OPYN_PROTOCOL = 702
    HEGIC = 703
    COMEX = 800
    CME = 801
    ICE = 802
    FOREX_COM = 803
    TEST_VENUE = 65000
    MOCK_EXCHANGE = 65001

    def chain_id(self) -> int | None:
        """Return the EVM chain id of a DeFi venue (300s: 1, 400s: 137, 500s: 56, 600s: 42161), else None."""
        return {3: 1, 4: 137, 5: 56, 6: 42161}.get(self.value // 100)
