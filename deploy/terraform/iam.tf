# Task roles. The task role holds exactly what seccfg does at run time: objects under
# the artifact prefix, reading the intake buckets' uploads, items of the library table
# and its indexes, the KMS keys S3 and DynamoDB use on its behalf (kms:ViaService), the
# IAM database login as the application user, the Bedrock models named in
# bedrock_model_ids, and the collector's metric and trace writes. tests/deploy.rs
# checks every action here against the IAM actions in the knowledge catalog, and that
# every grant (action on its resource) has a call site in src/ (or the collector's
# configuration) and every call site a grant.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:*"]
    }
  }
}

# --- Execution role: pull the images, write logs, read the database password -------------

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action has no resource-level permissions
  }
  statement {
    sid       = "EcrPull"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = local.ecr_repositories
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.app.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${local.name}-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- Migrate task's execution role: the above plus the master password ---------------------
# Only the one-off migrate task (the migration owner, docs/RUNBOOK.md) gets the master
# user's secret; the service's tasks log in as the application user with IAM tokens.

resource "aws_iam_role" "migrate_execution" {
  name               = "${local.name}-migrate-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "migrate_execution" {
  source_policy_documents = [data.aws_iam_policy_document.execution.json]
  statement {
    sid       = "DatabasePassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.this.master_user_secret[0].secret_arn]
  }
  statement {
    sid       = "DatabasePasswordKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this["data"].arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "migrate_execution" {
  name   = "${local.name}-migrate-execution"
  role   = aws_iam_role.migrate_execution.id
  policy = data.aws_iam_policy_document.migrate_execution.json
}

# --- Task role: what seccfg itself calls ----------------------------------------------------

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ArtifactObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/artifacts/*"]
  }
  statement {
    sid       = "ArtifactListing"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["artifacts/*"]
    }
  }
  dynamic "statement" {
    for_each = length(var.intake_bucket_names) > 0 ? [1] : []
    content {
      sid       = "IntakeObjects"
      actions   = ["s3:GetObject"]
      resources = [for b in var.intake_bucket_names : "arn:${local.partition}:s3:::${b}/*"]
    }
  }
  statement {
    # Scan: GET /v1/library/services without a profile reads every bundle item.
    sid       = "LibraryTable"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan"]
    resources = [aws_dynamodb_table.library.arn, "${aws_dynamodb_table.library.arn}/index/*"]
  }
  statement {
    # SSE-KMS with the objects key (SECCFG_ARTIFACT_KMS_KEY_ID): a put needs a data key,
    # a get its decryption.
    sid       = "ArtifactObjectsKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.this["objects"].arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }
  statement {
    # The library table is SSE-KMS with the objects key: DynamoDB decrypts the table key
    # on reads and makes data keys on writes on the caller's behalf.
    sid       = "LibraryTableKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.this["objects"].arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
  }
  dynamic "statement" {
    for_each = length(var.intake_kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "IntakeObjectsKey"
      actions   = ["kms:Decrypt"]
      resources = var.intake_kms_key_arns
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com"]
      }
    }
  }
  statement {
    # RDS IAM authentication as the application user only (never the master user).
    sid       = "DatabaseLogin"
    actions   = ["rds-db:connect"]
    resources = ["arn:${local.partition}:rds-db:${var.region}:${local.account_id}:dbuser:${aws_db_instance.this.resource_id}/${var.db_app_user}"]
  }
  dynamic "statement" {
    for_each = length(var.bedrock_model_ids) > 0 ? [1] : []
    content {
      sid       = "AdvisorModels"
      actions   = ["bedrock:InvokeModel"]
      resources = [for m in var.bedrock_model_ids : "arn:${local.partition}:bedrock:${var.region}::foundation-model/${m}"]
    }
  }
  statement {
    sid       = "CollectorMetrics"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.metrics.arn}:*"]
  }
  statement {
    sid       = "CollectorTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"] # X-Ray has no resource-level permissions for these actions
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "${local.name}-task"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
