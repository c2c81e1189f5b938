-- 0010: uploads and their bytes in the request stats.
--
-- Each rollup row also sums the Files API uploads its requests finished
-- (a multipart upload, or the chunk that finalized a resumable one) and
-- the upload body bytes they carried to Google, so the status view shows
-- them per key, pool, model and token like every other counter.
-- DDL commits implicitly, so each table gains the columns only while they
-- are missing.
SET @balance_add = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE rollup_1m ADD COLUMN uploads BIGINT NOT NULL DEFAULT 0, ADD COLUMN upload_bytes BIGINT NOT NULL DEFAULT 0', 'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'rollup_1m' AND column_name = 'uploads');
PREPARE balance_add_stmt FROM @balance_add;
EXECUTE balance_add_stmt;
DEALLOCATE PREPARE balance_add_stmt;
SET @balance_add = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE rollup_1h ADD COLUMN uploads BIGINT NOT NULL DEFAULT 0, ADD COLUMN upload_bytes BIGINT NOT NULL DEFAULT 0', 'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'rollup_1h' AND column_name = 'uploads');
PREPARE balance_add_stmt FROM @balance_add;
EXECUTE balance_add_stmt;
DEALLOCATE PREPARE balance_add_stmt;
