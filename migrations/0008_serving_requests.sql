CREATE TABLE "serving_requests" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "serving_requests_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"model_version_id" bigint NOT NULL,
	"endpoint" text NOT NULL,
	"stream" boolean NOT NULL,
	"outcome" text NOT NULL,
	"prompt_tokens" integer NOT NULL,
	"completion_tokens" integer NOT NULL,
	"queue_ms" real NOT NULL,
	"first_token_ms" real,
	"total_ms" real NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "serving_requests" ADD CONSTRAINT "serving_requests_model_version_id_model_versions_id_fk" FOREIGN KEY ("model_version_id") REFERENCES "public"."model_versions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "serving_requests_version_idx" ON "serving_requests" USING btree ("model_version_id","created_at");