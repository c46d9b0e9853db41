terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      "source"  = "hashicorp/aws"
      "version" = "= 6.25.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  type        = string
  description = "AWS region to deploy into."
}

variable "topic_name" {
  type        = string
  description = "Name of the topic."
}

variable "organization_id" {
  type        = string
  description = "AWS Organizations id (o-...) whose principals may use the topic."
}

variable "delivery_status_role_arn" {
  type        = string
  description = "Role that SNS assumes to write delivery status logs to CloudWatch Logs."
}

variable "data_classification" {
  type        = string
  description = "Classification tag applied to the topic."
  default     = "confidential"
}

resource "aws_kms_key" "data_key" {
  deletion_window_in_days = 30
  description             = "Customer managed key for the service's data (seccfg)"
  enable_key_rotation     = true
  policy                  = jsonencode({ "Version" = "2012-10-17", "Statement" = [{ "Sid" = "AccountAdministersKey", "Effect" = "Allow", "Principal" = { "AWS" = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }, "Action" = "kms:*", "Resource" = "*" }, { "Sid" = "ServicesUseKeyForThisAccount", "Effect" = "Allow", "Principal" = { "Service" = ["events.amazonaws.com", "cloudwatch.amazonaws.com"] }, "Action" = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"], "Resource" = "*", "Condition" = { "StringEquals" = { "aws:SourceAccount" = "${data.aws_caller_identity.current.account_id}" } } }] })
}

resource "aws_sns_topic" "topic" {
  kms_master_key_id                = aws_kms_key.data_key.arn
  name                             = var.topic_name
  signature_version                = 2
  sqs_failure_feedback_role_arn    = var.delivery_status_role_arn
  sqs_success_feedback_role_arn    = var.delivery_status_role_arn
  sqs_success_feedback_sample_rate = 100
  tags = {
    "data-classification" = var.data_classification
  }
}

resource "aws_sns_topic_policy" "topic_policy" {
  arn    = aws_sns_topic.topic.id
  policy = jsonencode({ "Version" = "2012-10-17", "Statement" = [{ "Sid" = "DenyInsecureTransport", "Effect" = "Deny", "Principal" = "*", "Action" = ["sns:Publish", "sns:Subscribe"], "Resource" = aws_sns_topic.topic.id, "Condition" = { "Bool" = { "aws:SecureTransport" = "false" } } }, { "Sid" = "DenyOutsideOrganization", "Effect" = "Deny", "Principal" = "*", "Action" = ["sns:Publish", "sns:Subscribe"], "Resource" = aws_sns_topic.topic.id, "Condition" = { "StringNotEquals" = { "aws:PrincipalOrgID" = var.organization_id }, "BoolIfExists" = { "aws:PrincipalIsAWSService" = "false" } } }] })
}

output "topic_id" {
  value = aws_sns_topic.topic.id
}

output "topic_policy_id" {
  value = aws_sns_topic_policy.topic_policy.id
}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}
