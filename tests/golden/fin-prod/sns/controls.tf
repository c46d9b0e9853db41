resource "aws_config_config_rule" "sns_01" {
  name = "seccfg-sns-01"

  source {
    owner             = "AWS"
    source_identifier = "SNS_ENCRYPTED_KMS"
  }

  scope {
    compliance_resource_types = [
      "AWS::SNS::Topic"
    ]
  }
}

resource "aws_config_config_rule" "sns_key" {
  name = "seccfg-sns-key"

  source {
    owner             = "AWS"
    source_identifier = "KMS_CMK_NOT_SCHEDULED_FOR_DELETION"
  }
}

resource "aws_config_config_rule" "sns_04" {
  name = "seccfg-sns-04"

  source {
    owner             = "AWS"
    source_identifier = "SNS_TOPIC_MESSAGE_DELIVERY_NOTIFICATION_ENABLED"
  }

  scope {
    compliance_resource_types = [
      "AWS::SNS::Topic"
    ]
  }
}

variable "alert_topic_arn" {
  type        = string
  description = "SNS topic that receives security alerts."
}

resource "aws_cloudwatch_event_rule" "sns_01_drift" {
  event_pattern = "{\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"sns.amazonaws.com\"],\"eventName\":[\"SetTopicAttributes\"]}}"
  name          = "seccfg-sns-01-drift"
}

resource "aws_cloudwatch_event_target" "sns_01_drift" {
  arn  = var.alert_topic_arn
  rule = aws_cloudwatch_event_rule.sns_01_drift.name
}

resource "aws_cloudwatch_event_rule" "sns_02_drift" {
  event_pattern = "{\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"sns.amazonaws.com\"],\"eventName\":[\"SetTopicAttributes\",\"AddPermission\",\"RemovePermission\"]}}"
  name          = "seccfg-sns-02-drift"
}

resource "aws_cloudwatch_event_target" "sns_02_drift" {
  arn  = var.alert_topic_arn
  rule = aws_cloudwatch_event_rule.sns_02_drift.name
}

resource "aws_cloudwatch_event_rule" "sns_03_drift" {
  event_pattern = "{\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"sns.amazonaws.com\"],\"eventName\":[\"Subscribe\"]}}"
  name          = "seccfg-sns-03-drift"
}

resource "aws_cloudwatch_event_target" "sns_03_drift" {
  arn  = var.alert_topic_arn
  rule = aws_cloudwatch_event_rule.sns_03_drift.name
}
