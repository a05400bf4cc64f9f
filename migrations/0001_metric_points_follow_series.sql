-- metric_points has no foreign key to metric_series (it would cost a lookup and a row lock per
-- inserted point). This trigger keeps the same guarantee for deletes: when a series goes, directly
-- or through the cascade from its run, its points go with it.
CREATE FUNCTION metric_series_delete_points() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM metric_points WHERE series_id IN (SELECT id FROM old_series);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER metric_series_delete_points
  AFTER DELETE ON metric_series
  REFERENCING OLD TABLE AS old_series
  FOR EACH STATEMENT EXECUTE FUNCTION metric_series_delete_points();
