# Customer managed KMS keys, one per data domain, all with yearly rotation. Each key
# policy gives the account administrators control and lets only the AWS service that
# stores the data use it (kms:ViaService / service principals).

locals {
  kms_keys = {
    data    = "RDS storage, Performance Insights and the master password secret"
    objects = "artifact bucket objects and DynamoDB library table"
    logs    = "CloudWatch Logs groups and the alarm topic"
    backup  = "AWS Backup vault recovery points"
  }
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:a key policy's Resource "*" means this key only; the account root statement is the AWS-required administration statement
  #checkov:skip=CKV_AWS_356:a key policy's Resource "*" means this key only (key policies cannot name other resources)
  #checkov:skip=CKV_AWS_109:a key policy's Resource "*" means this key only; without the account root statement the key becomes unmanageable
  for_each = local.kms_keys

  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []
    content {
      sid       = "CloudWatchLogsAndAlarms"
      actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["logs.${var.region}.amazonaws.com", "cloudwatch.amazonaws.com", "delivery.logs.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  for_each = local.kms_keys

  description             = "${local.name} ${each.value}"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[each.key].json
}

resource "aws_kms_alias" "this" {
  for_each = local.kms_keys

  name          = "alias/${local.name}-${each.key}"
  target_key_id = aws_kms_key.this[each.key].key_id
}
