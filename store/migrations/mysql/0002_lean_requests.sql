-- 0002: the requests table keeps only its ts index.
--
-- Every request row used to update the table plus five secondary indexes,
-- and those random B-tree inserts were most of the writer's cost. The
-- status view never reads raw request rows: its summaries and charts read
-- the rollups, and its error browser reads the errors table, which keeps
-- all its indexes. requests_ts remains for retention pruning and for
-- RecentRequests, which pages newest first by ts and applies its filters
-- while walking that index.
--
-- MySQL has no DROP INDEX IF EXISTS (MariaDB has), and DDL commits
-- implicitly, so a half-applied run must be repeatable: the ALTER is
-- built from the indexes that still exist, and is a no-op when none do.
-- The session variables live on the one connection migrate uses.
SET @balance_drop = (SELECT GROUP_CONCAT(DISTINCT CONCAT('DROP INDEX ', index_name) ORDER BY index_name SEPARATOR ', ')
  FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'requests'
    AND index_name IN ('requests_key_ts', 'requests_model_ts', 'requests_token_ts', 'requests_status_ts'));
SET @balance_drop = IF(@balance_drop IS NULL, 'DO 0', CONCAT('ALTER TABLE requests ', @balance_drop));
PREPARE balance_drop_stmt FROM @balance_drop;
EXECUTE balance_drop_stmt;
DEALLOCATE PREPARE balance_drop_stmt;
