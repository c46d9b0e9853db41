resource "aws_config_config_rule" "bedrock_key" {
  name = "seccfg-bedrock-key"

  source {
    owner             = "AWS"
    source_identifier = "KMS_CMK_NOT_SCHEDULED_FOR_DELETION"
  }
}

variable "alert_topic_arn" {
  type        = string
  description = "SNS topic that receives security alerts."
}

resource "aws_cloudwatch_event_rule" "bedrock_06_drift" {
  event_pattern = "{\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"bedrock.amazonaws.com\"],\"eventName\":[\"DeleteModelInvocationLoggingConfiguration\",\"PutModelInvocationLoggingConfiguration\"]}}"
  name          = "seccfg-bedrock-06-drift"
}

resource "aws_cloudwatch_event_target" "bedrock_06_drift" {
  arn  = var.alert_topic_arn
  rule = aws_cloudwatch_event_rule.bedrock_06_drift.name
}
