-- 0010: uploads and their bytes in the request stats.
--
-- Each rollup row also sums the Files API uploads its requests finished
-- (a multipart upload, or the chunk that finalized a resumable one) and
-- the upload body bytes they carried to Google, so the status view shows
-- them per key, pool, model and token like every other counter.
ALTER TABLE rollup_1m ADD COLUMN uploads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_1m ADD COLUMN upload_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_1h ADD COLUMN uploads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_1h ADD COLUMN upload_bytes INTEGER NOT NULL DEFAULT 0;
