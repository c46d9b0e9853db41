# AWS Backup: daily and monthly recovery points of the database, the library table and
# the artifact bucket in a vault encrypted with the backup CMK, whose policy denies
# deleting recovery points or the vault, with a vault lock keeping the minimum retention.

resource "aws_backup_vault" "this" {
  name          = "${local.name}-vault"
  kms_key_arn   = aws_kms_key.this["backup"].arn
  force_destroy = false
}

data "aws_iam_policy_document" "vault" {
  statement {
    sid    = "DenyDeletion"
    effect = "Deny"
    actions = [
      "backup:DeleteRecoveryPoint", "backup:DeleteBackupVault", "backup:DeleteBackupVaultAccessPolicy",
      "backup:DeleteBackupVaultLockConfiguration", "backup:UpdateRecoveryPointLifecycle",
    ]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
  }
}

resource "aws_backup_vault_policy" "this" {
  backup_vault_name = aws_backup_vault.this.name
  policy            = data.aws_iam_policy_document.vault.json
}

resource "aws_backup_vault_lock_configuration" "this" {
  backup_vault_name  = aws_backup_vault.this.name
  min_retention_days = 35
  max_retention_days = var.backup_retention_days * 2
}

resource "aws_backup_plan" "this" {
  name = "${local.name}-plan"

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.this.name
    schedule          = "cron(0 3 * * ? *)"
    start_window      = 60
    completion_window = 360
    lifecycle {
      cold_storage_after = 30
      delete_after       = var.backup_retention_days
    }
  }

  rule {
    rule_name         = "monthly"
    target_vault_name = aws_backup_vault.this.name
    schedule          = "cron(0 4 1 * ? *)"
    lifecycle {
      cold_storage_after = 30
      delete_after       = var.backup_retention_days * 2
    }
  }
}

data "aws_iam_policy_document" "backup_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "backup" {
  name               = "${local.name}-backup"
  assume_role_policy = data.aws_iam_policy_document.backup_assume.json
}

resource "aws_iam_role_policy_attachment" "backup" {
  for_each = toset([
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
  ])
  role       = aws_iam_role.backup.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.key}"
}

resource "aws_backup_selection" "this" {
  name         = "${local.name}-data"
  plan_id      = aws_backup_plan.this.id
  iam_role_arn = aws_iam_role.backup.arn
  resources = [
    aws_db_instance.this.arn,
    aws_dynamodb_table.library.arn,
    aws_s3_bucket.artifacts.arn,
  ]
}
