# Inputs, each validated. Production rules (multi-AZ, deletion protection, backup
# retention, instance class) are enforced here with cross-variable validations, so
# a prod configuration that weakens them is refused at plan time.
# tests/deploy.rs evaluates every validation with hcl-rs against good and bad inputs.

variable "name" {
  description = "Application name, the first part of every resource name."
  type        = string
  default     = "seccfg"

  validation {
    condition     = length(regexall("^[a-z][a-z0-9-]{1,20}$", var.name)) > 0
    error_message = "name must be 2-21 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, appended to every resource name: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = length(regexall("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region)) > 0
    error_message = "region must look like eu-west-1."
  }
}

variable "tags" {
  description = "Extra tags for every resource (the provider adds Application, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "CIDR of the VPC (a /16 to /24 IPv4 block)."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = length(regexall("^([0-9]{1,3}\\.){3}[0-9]{1,3}/(1[6-9]|2[0-4])$", var.vpc_cidr)) > 0
    error_message = "vpc_cidr must be an IPv4 CIDR block from /16 to /24."
  }
}

variable "az_count" {
  description = "Availability zones to spread subnets over (2 or 3)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "allowed_ingress_cidrs" {
  description = "Client CIDRs allowed to reach the HTTPS listener (CI runners, portals)."
  type        = list(string)

  validation {
    condition     = length(var.allowed_ingress_cidrs) > 0 && alltrue([for c in var.allowed_ingress_cidrs : length(regexall("^([0-9]{1,3}\\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$", c)) > 0])
    error_message = "allowed_ingress_cidrs must be a non-empty list of IPv4 CIDR blocks."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener."
  type        = string

  validation {
    condition     = length(regexall("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn)) > 0
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "image" {
  description = "seccfg container image (private ECR, pinned by digest: REPO@sha256:...)."
  type        = string

  validation {
    condition     = length(regexall("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/.+@sha256:[0-9a-f]{64}$", var.image)) > 0
    error_message = "image must be a private ECR image pinned by digest (…@sha256:<64 hex>)."
  }
}

variable "metrics_sidecar_image" {
  description = "ADOT collector image mirrored into private ECR, pinned by digest; it scrapes /metrics into CloudWatch (namespace Seccfg) for alarms and queue-depth scaling."
  type        = string

  validation {
    condition     = length(regexall("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/.+@sha256:[0-9a-f]{64}$", var.metrics_sidecar_image)) > 0
    error_message = "metrics_sidecar_image must be a private ECR image pinned by digest."
  }
}

variable "task_cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 1024

  validation {
    condition     = contains([512, 1024, 2048, 4096], var.task_cpu)
    error_message = "task_cpu must be 512, 1024, 2048 or 4096."
  }
}

variable "task_memory" {
  description = "Fargate task memory (MiB)."
  type        = number
  default     = 2048

  validation {
    condition     = var.task_memory >= 1024 && var.task_memory <= 16384
    error_message = "task_memory must be between 1024 and 16384 MiB."
  }
}

variable "workers_per_task" {
  description = "SECCFG_WORKERS: stage workers in each task."
  type        = number
  default     = 2

  validation {
    condition     = var.workers_per_task >= 0 && var.workers_per_task <= 16
    error_message = "workers_per_task must be between 0 and 16."
  }
}

variable "min_tasks" {
  description = "Fewest running tasks (autoscaling floor)."
  type        = number
  default     = 2

  validation {
    condition     = var.min_tasks >= 1 && (var.environment != "prod" || var.min_tasks >= 2)
    error_message = "min_tasks must be at least 1, and at least 2 in prod."
  }
}

variable "max_tasks" {
  description = "Most running tasks (autoscaling ceiling)."
  type        = number
  default     = 8

  validation {
    condition     = var.max_tasks >= var.min_tasks && var.max_tasks <= 50
    error_message = "max_tasks must be at least min_tasks and at most 50."
  }
}

variable "scale_out_queue_depth" {
  description = "Queued stages per task above which the service scales out."
  type        = number
  default     = 50

  validation {
    condition     = var.scale_out_queue_depth >= 1
    error_message = "scale_out_queue_depth must be positive."
  }
}

variable "db_instance_class" {
  description = "RDS PostgreSQL instance class (at least db.t4g.medium; at least db.m6g.large in prod)."
  type        = string
  default     = "db.t4g.medium"

  validation {
    condition = contains(
      var.environment == "prod"
      ? ["db.m6g.large", "db.m6g.xlarge", "db.m6g.2xlarge", "db.m7g.large", "db.m7g.xlarge", "db.m7g.2xlarge", "db.r6g.large", "db.r6g.xlarge", "db.r6g.2xlarge", "db.r7g.large", "db.r7g.xlarge", "db.r7g.2xlarge"]
      : ["db.t4g.medium", "db.t4g.large", "db.m6g.large", "db.m6g.xlarge", "db.m7g.large", "db.m7g.xlarge", "db.r6g.large", "db.r7g.large"],
      var.db_instance_class
    )
    error_message = "db_instance_class is below the minimum (db.t4g.medium; db.m6g.large or larger in prod)."
  }
}

variable "db_allocated_storage" {
  description = "Initial RDS storage in GiB (autoscaling up to 4x)."
  type        = number
  default     = 50

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 4096
    error_message = "db_allocated_storage must be between 20 and 4096 GiB."
  }
}

variable "db_multi_az" {
  description = "Multi-AZ RDS deployment; must be true in prod."
  type        = bool
  default     = true

  validation {
    condition     = var.environment != "prod" || var.db_multi_az
    error_message = "db_multi_az cannot be turned off in prod."
  }
}

variable "db_backup_retention_days" {
  description = "Automated RDS backup retention in days (at least 7; at least 14 in prod)."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35 && (var.environment != "prod" || var.db_backup_retention_days >= 14)
    error_message = "db_backup_retention_days must be 7-35, and at least 14 in prod."
  }
}

variable "deletion_protection" {
  description = "Deletion protection on the database, load balancer and DynamoDB table; must be true in prod."
  type        = bool
  default     = true

  validation {
    condition     = var.environment != "prod" || var.deletion_protection
    error_message = "deletion_protection cannot be turned off in prod."
  }
}

variable "db_password_rotation_days" {
  description = "Rotation period of the RDS-managed master password secret."
  type        = number
  default     = 30

  validation {
    condition     = var.db_password_rotation_days >= 1 && var.db_password_rotation_days <= 90
    error_message = "db_password_rotation_days must be between 1 and 90."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention (at least 365 days: audit evidence for regulated customers)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value of at least 365."
  }
}

variable "artifact_noncurrent_days" {
  description = "Days before a superseded artifact version moves to infrequent access; expired after 10x this."
  type        = number
  default     = 30

  validation {
    condition     = var.artifact_noncurrent_days >= 30
    error_message = "artifact_noncurrent_days must be at least 30 (the S3 minimum for STANDARD_IA)."
  }
}

variable "replication_destination_bucket_arn" {
  description = "Optional: ARN of a versioned bucket in another region to replicate artifacts to (empty = no replication)."
  type        = string
  default     = ""

  validation {
    condition     = var.replication_destination_bucket_arn == "" || length(regexall("^arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63}$", var.replication_destination_bucket_arn)) > 0
    error_message = "replication_destination_bucket_arn must be empty or an S3 bucket ARN."
  }
}

variable "replication_destination_kms_key_arn" {
  description = "KMS key in the destination region for replicated objects (required with replication)."
  type        = string
  default     = ""

  validation {
    condition     = var.replication_destination_kms_key_arn == "" || length(regexall("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.replication_destination_kms_key_arn)) > 0
    error_message = "replication_destination_kms_key_arn must be empty or a KMS key ARN."
  }
}

variable "backup_retention_days" {
  description = "AWS Backup recovery point retention in days (at least 35)."
  type        = number
  default     = 365

  validation {
    condition     = var.backup_retention_days >= 35
    error_message = "backup_retention_days must be at least 35."
  }
}

variable "bedrock_model_ids" {
  description = "Bedrock foundation model ids the advisor may invoke (empty = no advisor, no Bedrock permission)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.bedrock_model_ids : length(regexall("^[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", m)) > 0])
    error_message = "bedrock_model_ids must be Bedrock model ids such as anthropic.claude-3-5-sonnet-20240620-v1:0."
  }
}

variable "alarm_email" {
  description = "Optional e-mail subscribed to the alarm topic (empty = subscribe elsewhere)."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_email == "" || length(regexall("^[^@ ]+@[^@ ]+\\.[^@ ]+$", var.alarm_email)) > 0
    error_message = "alarm_email must be empty or an e-mail address."
  }
}

variable "queue_age_alarm_minutes" {
  description = "Alarm when the oldest queued stage has waited longer than this (mirrors SeccfgQueueStalled)."
  type        = number
  default     = 10

  validation {
    condition     = var.queue_age_alarm_minutes >= 1
    error_message = "queue_age_alarm_minutes must be positive."
  }
}

variable "db_app_user" {
  description = "PostgreSQL user the service logs in as with RDS IAM tokens (created once by the runbook's SQL); never the master user."
  type        = string
  default     = "seccfg_app"
  validation {
    condition     = length(regexall("^[a-z_][a-z0-9_]{0,62}$", var.db_app_user)) > 0 && var.db_app_user != "seccfg_admin"
    error_message = "db_app_user must be a plain lower-case PostgreSQL user name other than the master user seccfg_admin."
  }
}

variable "intake_bucket_names" {
  description = "Buckets whose uploads the S3 intake (POST /v1/intake/s3-event) reads; the task role may only read their objects (empty = intake off)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for b in var.intake_bucket_names : length(regexall("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b)) > 0])
    error_message = "intake_bucket_names must be S3 bucket names."
  }
}

variable "intake_kms_key_arns" {
  description = "KMS keys that encrypt the intake buckets' objects (SSE-KMS); the task role may decrypt through S3 with them only."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for k in var.intake_kms_key_arns : length(regexall("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", k)) > 0])
    error_message = "intake_kms_key_arns must be KMS key ARNs."
  }
}
