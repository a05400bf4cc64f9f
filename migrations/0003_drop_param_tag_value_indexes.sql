DROP INDEX "run_params_key_value_idx";--> statement-breakpoint
DROP INDEX "run_tags_key_value_idx";