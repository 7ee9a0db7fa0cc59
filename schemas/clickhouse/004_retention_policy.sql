-- The retention policy in force, one row per change (the newest wins). `pulsearb db migrate --retention-days N
-- [--move-after-days H --volume V]` records it here and alters every archive table's TTL to match; tables
-- created by later migrations take it from here, so re-running migrate without options keeps it.

CREATE TABLE IF NOT EXISTS {database}.retention_policy (
    days UInt32,
    move_after_days Nullable(UInt32),
    volume Nullable(String),
    storage_policy Nullable(String),
    applied_at DateTime64(3) DEFAULT now64(3)
) ENGINE = MergeTree
ORDER BY applied_at;
