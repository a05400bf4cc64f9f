-- Points arrive in ascending step order per series, so index pages are filled left to right and
-- never revisited: leaving the default 10% free per leaf page only makes the index larger.
ALTER INDEX "metric_points_pk" SET (fillfactor = 100);
