-- 0002: the requests table keeps only its ts index.
--
-- Every request row used to update the table plus five secondary indexes,
-- and those random B-tree inserts were most of the writer's CPU, which a
-- proxy sharing its cores pays in throughput. The status view never reads
-- raw request rows: its summaries and charts read the rollups, and its
-- error browser reads the errors table, which keeps all its indexes.
-- requests_ts remains for retention pruning and for RecentRequests, which
-- pages newest first by ts and applies its filters while walking that
-- index (fast for common values; a rare value walks further back).
DROP INDEX IF EXISTS requests_key_ts;
DROP INDEX IF EXISTS requests_model_ts;
DROP INDEX IF EXISTS requests_token_ts;
DROP INDEX IF EXISTS requests_status_ts;
