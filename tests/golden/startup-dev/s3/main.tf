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

variable "bucket_name" {
  type        = string
  description = "Name of the data bucket, unique in the partition."
}

variable "access_log_bucket_name" {
  type        = string
  description = "Existing central bucket that receives server access logs."
}

variable "data_classification" {
  type        = string
  description = "Classification tag applied to the bucket."
  default     = "confidential"
}

resource "aws_s3_bucket" "bucket" {
  bucket = var.bucket_name
  tags = {
    "data-classification" = var.data_classification
  }
}

resource "aws_s3_bucket_public_access_block" "bucket" {
  block_public_acls       = true
  block_public_policy     = true
  bucket                  = aws_s3_bucket.bucket.id
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "bucket" {
  bucket = aws_s3_bucket.bucket.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
}

resource "aws_s3_bucket_ownership_controls" "bucket" {
  bucket = aws_s3_bucket.bucket.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "bucket" {
  bucket        = aws_s3_bucket.bucket.id
  target_bucket = var.access_log_bucket_name
  target_prefix = "s3-access/"
}

resource "aws_s3_bucket_versioning" "bucket" {
  bucket = aws_s3_bucket.bucket.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "bucket" {
  bucket = aws_s3_bucket.bucket.id

  rule {
    id     = "seccfg-lifecycle"
    status = "Enabled"

    filter {
      prefix = ""
    }

    noncurrent_version_expiration {
      noncurrent_days = 365
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "bucket_policy" {
  bucket = aws_s3_bucket.bucket.id
  policy = jsonencode({ "Version" = "2012-10-17", "Statement" = [{ "Sid" = "DenyInsecureTransport", "Effect" = "Deny", "Principal" = "*", "Action" = "s3:*", "Resource" = [aws_s3_bucket.bucket.arn, "${aws_s3_bucket.bucket.arn}/*"], "Condition" = { "Bool" = { "aws:SecureTransport" = "false" } } }] })
}

output "bucket_id" {
  value = aws_s3_bucket.bucket.id
}

output "bucket_policy_id" {
  value = aws_s3_bucket_policy.bucket_policy.id
}
