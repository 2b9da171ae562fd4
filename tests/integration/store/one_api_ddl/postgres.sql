-- The schema GORM's AutoMigrate creates for One API on PostgreSQL (written out from one-api.md §11).
CREATE TABLE "users" ("id" bigserial,"username" text UNIQUE,"password" text NOT NULL,"display_name" text,"role" bigint DEFAULT 1,"status" bigint DEFAULT 1,"email" text,"github_id" text,"wechat_id" text,"lark_id" text,"oidc_id" text,"access_token" char(32) UNIQUE,"quota" bigint DEFAULT 0,"used_quota" bigint DEFAULT 0,"request_count" bigint DEFAULT 0,"group" varchar(32) DEFAULT 'default',"aff_code" varchar(32) UNIQUE,"inviter_id" bigint,PRIMARY KEY ("id"));
CREATE INDEX "idx_users_username" ON "users" ("username");
CREATE INDEX "idx_users_inviter_id" ON "users" ("inviter_id");
CREATE TABLE "tokens" ("id" bigserial,"user_id" bigint,"key" char(48),"status" bigint DEFAULT 1,"name" text,"created_time" bigint,"accessed_time" bigint,"expired_time" bigint DEFAULT -1,"remain_quota" bigint DEFAULT 0,"unlimited_quota" boolean DEFAULT false,"used_quota" bigint DEFAULT 0,"models" text,"subnet" text DEFAULT '',PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "idx_tokens_key" ON "tokens" ("key");
CREATE INDEX "idx_tokens_name" ON "tokens" ("name");
CREATE TABLE "channels" ("id" bigserial,"type" bigint DEFAULT 0,"key" text,"status" bigint DEFAULT 1,"name" text,"weight" bigint DEFAULT 0,"created_time" bigint,"test_time" bigint,"response_time" bigint,"base_url" text DEFAULT '',"other" text,"balance" decimal,"balance_updated_time" bigint,"models" text,"group" varchar(32) DEFAULT 'default',"used_quota" bigint DEFAULT 0,"model_mapping" varchar(1024) DEFAULT '',"priority" bigint DEFAULT 0,"config" text,"system_prompt" text,PRIMARY KEY ("id"));
CREATE INDEX "idx_channels_name" ON "channels" ("name");
CREATE TABLE "abilities" ("group" varchar(32),"model" text,"channel_id" bigint,"enabled" boolean,"priority" bigint DEFAULT 0,PRIMARY KEY ("group","model","channel_id"));
CREATE INDEX "idx_abilities_channel_id" ON "abilities" ("channel_id");
CREATE INDEX "idx_abilities_priority" ON "abilities" ("priority");
CREATE TABLE "options" ("key" text,"value" text,PRIMARY KEY ("key"));
CREATE TABLE "redemptions" ("id" bigserial,"user_id" bigint,"key" char(32),"status" bigint DEFAULT 1,"name" text,"quota" bigint DEFAULT 100,"created_time" bigint,"redeemed_time" bigint,PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "idx_redemptions_key" ON "redemptions" ("key");
CREATE TABLE "logs" ("id" bigserial,"user_id" bigint,"created_at" bigint,"type" bigint,"content" text,"username" text DEFAULT '',"token_name" text DEFAULT '',"model_name" text DEFAULT '',"quota" bigint DEFAULT 0,"prompt_tokens" bigint DEFAULT 0,"completion_tokens" bigint DEFAULT 0,"channel_id" bigint,"request_id" text DEFAULT '',"elapsed_time" bigint DEFAULT 0,"is_stream" boolean DEFAULT false,"system_prompt_reset" boolean DEFAULT false,PRIMARY KEY ("id"));
CREATE INDEX "idx_created_at_type" ON "logs" ("created_at","type");
CREATE INDEX "idx_logs_user_id" ON "logs" ("user_id");
