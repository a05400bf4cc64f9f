CREATE TABLE "human_ratings" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "human_ratings_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"evaluation_id" uuid NOT NULL,
	"case_id" text NOT NULL,
	"annotator" text NOT NULL,
	"rating" smallint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "human_ratings_case_annotator_uq" UNIQUE("evaluation_id","case_id","annotator"),
	CONSTRAINT "human_ratings_rating_range" CHECK ("human_ratings"."rating" between 1 and 5)
);
--> statement-breakpoint
ALTER TABLE "human_ratings" ADD CONSTRAINT "human_ratings_evaluation_id_evaluations_id_fk" FOREIGN KEY ("evaluation_id") REFERENCES "public"."evaluations"("id") ON DELETE cascade ON UPDATE no action;