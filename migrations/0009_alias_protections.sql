CREATE TABLE "alias_protections" (
	"project_id" bigint NOT NULL,
	"alias" text NOT NULL,
	"protected" boolean DEFAULT true NOT NULL,
	"gate_id" bigint,
	"updated_by_token_id" bigint,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "alias_protections_project_id_alias_pk" PRIMARY KEY("project_id","alias")
);
--> statement-breakpoint
ALTER TABLE "gates" ADD COLUMN "created_by_token_id" bigint;--> statement-breakpoint
ALTER TABLE "verdicts" ADD COLUMN "checkpoint_sha256" text;--> statement-breakpoint
ALTER TABLE "alias_protections" ADD CONSTRAINT "alias_protections_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alias_protections" ADD CONSTRAINT "alias_protections_gate_id_gates_id_fk" FOREIGN KEY ("gate_id") REFERENCES "public"."gates"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alias_protections" ADD CONSTRAINT "alias_protections_updated_by_token_id_api_tokens_id_fk" FOREIGN KEY ("updated_by_token_id") REFERENCES "public"."api_tokens"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gates" ADD CONSTRAINT "gates_created_by_token_id_api_tokens_id_fk" FOREIGN KEY ("created_by_token_id") REFERENCES "public"."api_tokens"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
-- Protection moves from each model's alias to the project's alias name (one rule per name, read
-- by one service): a name protected on any model stays protected, with no gate bound yet (an
-- admin binds one, or the first promotion with a gate an admin saved). `production` needs no row:
-- it is protected by default from now on.
INSERT INTO "alias_protections" ("project_id", "alias", "protected")
SELECT DISTINCT m."project_id", a."alias", true
FROM "model_aliases" a JOIN "models" m ON m."id" = a."model_id"
WHERE a."protected"
ON CONFLICT DO NOTHING;--> statement-breakpoint
ALTER TABLE "model_aliases" DROP COLUMN "protected";