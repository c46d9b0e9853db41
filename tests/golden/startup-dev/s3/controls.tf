resource "aws_config_config_rule" "s3_04" {
  name = "seccfg-s3-04"

  source {
    owner             = "AWS"
    source_identifier = "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_10" {
  name = "seccfg-s3-10"

  source {
    owner             = "AWS"
    source_identifier = "S3_BUCKET_PUBLIC_READ_PROHIBITED"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_11" {
  name = "seccfg-s3-11"

  source {
    owner             = "AWS"
    source_identifier = "S3_BUCKET_PUBLIC_WRITE_PROHIBITED"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_01" {
  name = "seccfg-s3-01"

  source {
    owner             = "AWS"
    source_identifier = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_03" {
  name = "seccfg-s3-03"

  source {
    owner             = "AWS"
    source_identifier = "S3_BUCKET_SSL_REQUESTS_ONLY"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_05" {
  name = "seccfg-s3-05"

  source {
    owner             = "AWS"
    source_identifier = "S3_BUCKET_ACL_PROHIBITED"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_09" {
  name = "seccfg-s3-09"

  source {
    owner             = "AWS"
    source_identifier = "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC"
  }
}

resource "aws_config_config_rule" "s3_12" {
  input_parameters = "{\"blacklistedActionPattern\":\"s3:DeleteBucketPolicy,s3:PutBucketAcl,s3:PutBucketPolicy,s3:PutEncryptionConfiguration,s3:PutObjectAcl\"}"
  name             = "seccfg-s3-12"

  source {
    owner             = "AWS"
    source_identifier = "S3_BUCKET_BLACKLISTED_ACTIONS_PROHIBITED"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_06" {
  name = "seccfg-s3-06"

  source {
    owner             = "AWS"
    source_identifier = "S3_BUCKET_LOGGING_ENABLED"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_07" {
  name = "seccfg-s3-07"

  source {
    owner             = "AWS"
    source_identifier = "S3_BUCKET_VERSIONING_ENABLED"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_08" {
  input_parameters = "{\"tag1Key\":\"data-classification\"}"
  name             = "seccfg-s3-08"

  source {
    owner             = "AWS"
    source_identifier = "REQUIRED_TAGS"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_13" {
  name = "seccfg-s3-13"

  source {
    owner             = "AWS"
    source_identifier = "S3_VERSION_LIFECYCLE_POLICY_CHECK"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

resource "aws_config_config_rule" "s3_14" {
  name = "seccfg-s3-14"

  source {
    owner             = "AWS"
    source_identifier = "S3_LIFECYCLE_POLICY_CHECK"
  }

  scope {
    compliance_resource_types = [
      "AWS::S3::Bucket"
    ]
  }
}

variable "alert_topic_arn" {
  type        = string
  description = "SNS topic that receives security alerts."
}

resource "aws_cloudwatch_event_rule" "s3_04_drift" {
  event_pattern = "{\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"s3.amazonaws.com\"],\"eventName\":[\"PutBucketPublicAccessBlock\",\"DeleteBucketPublicAccessBlock\",\"PutBucketAcl\"]}}"
  name          = "seccfg-s3-04-drift"
}

resource "aws_cloudwatch_event_target" "s3_04_drift" {
  arn  = var.alert_topic_arn
  rule = aws_cloudwatch_event_rule.s3_04_drift.name
}

resource "aws_cloudwatch_event_rule" "s3_01_drift" {
  event_pattern = "{\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"s3.amazonaws.com\"],\"eventName\":[\"DeleteBucketEncryption\",\"PutBucketEncryption\"]}}"
  name          = "seccfg-s3-01-drift"
}

resource "aws_cloudwatch_event_target" "s3_01_drift" {
  arn  = var.alert_topic_arn
  rule = aws_cloudwatch_event_rule.s3_01_drift.name
}

resource "aws_cloudwatch_event_rule" "s3_03_drift" {
  event_pattern = "{\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"s3.amazonaws.com\"],\"eventName\":[\"DeleteBucketPolicy\",\"PutBucketPolicy\"]}}"
  name          = "seccfg-s3-03-drift"
}

resource "aws_cloudwatch_event_target" "s3_03_drift" {
  arn  = var.alert_topic_arn
  rule = aws_cloudwatch_event_rule.s3_03_drift.name
}

resource "aws_cloudwatch_event_rule" "s3_06_drift" {
  event_pattern = "{\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"s3.amazonaws.com\"],\"eventName\":[\"PutBucketLogging\"]}}"
  name          = "seccfg-s3-06-drift"
}

resource "aws_cloudwatch_event_target" "s3_06_drift" {
  arn  = var.alert_topic_arn
  rule = aws_cloudwatch_event_rule.s3_06_drift.name
}

resource "aws_cloudwatch_event_rule" "s3_07_drift" {
  event_pattern = "{\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"s3.amazonaws.com\"],\"eventName\":[\"PutBucketVersioning\"]}}"
  name          = "seccfg-s3-07-drift"
}

resource "aws_cloudwatch_event_target" "s3_07_drift" {
  arn  = var.alert_topic_arn
  rule = aws_cloudwatch_event_rule.s3_07_drift.name
}
