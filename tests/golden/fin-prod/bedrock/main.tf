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

variable "guardrail_name" {
  type        = string
  description = "Name of the organisation's guardrail for model use."
}

variable "blocked_input_message" {
  type        = string
  description = "Message returned when a prompt is blocked."
  default     = "This request cannot be processed under the organisation's AI use policy."
}

variable "blocked_output_message" {
  type        = string
  description = "Message returned when a model response is blocked."
  default     = "The response was withheld under the organisation's AI use policy."
}

resource "aws_kms_key" "data_key" {
  deletion_window_in_days = 30
  description             = "Customer managed key for the service's data (seccfg)"
  enable_key_rotation     = true
  policy                  = jsonencode({ "Version" = "2012-10-17", "Statement" = [{ "Sid" = "AccountAdministersKey", "Effect" = "Allow", "Principal" = { "AWS" = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }, "Action" = "kms:*", "Resource" = "*" }] })
}

resource "aws_bedrock_guardrail" "guardrail" {
  blocked_input_messaging   = var.blocked_input_message
  blocked_outputs_messaging = var.blocked_output_message
  kms_key_arn               = aws_kms_key.data_key.arn
  name                      = var.guardrail_name

  content_policy_config {
    filters_config {
      input_strength  = "HIGH"
      output_strength = "NONE"
      type            = "PROMPT_ATTACK"
    }

    filters_config {
      input_strength  = "HIGH"
      output_strength = "HIGH"
      type            = "MISCONDUCT"
    }

    filters_config {
      input_strength  = "HIGH"
      output_strength = "HIGH"
      type            = "HATE"
    }

    filters_config {
      input_strength  = "HIGH"
      output_strength = "HIGH"
      type            = "VIOLENCE"
    }

    filters_config {
      input_strength  = "MEDIUM"
      output_strength = "MEDIUM"
      type            = "INSULTS"
    }

    filters_config {
      input_strength  = "HIGH"
      output_strength = "HIGH"
      type            = "SEXUAL"
    }
  }

  sensitive_information_policy_config {
    pii_entities_config {
      action = "BLOCK"
      type   = "AWS_SECRET_KEY"
    }

    pii_entities_config {
      action = "BLOCK"
      type   = "AWS_ACCESS_KEY"
    }

    pii_entities_config {
      action = "BLOCK"
      type   = "PASSWORD"
    }

    pii_entities_config {
      action = "BLOCK"
      type   = "CREDIT_DEBIT_CARD_NUMBER"
    }

    pii_entities_config {
      action = "BLOCK"
      type   = "INTERNATIONAL_BANK_ACCOUNT_NUMBER"
    }

    pii_entities_config {
      action = "BLOCK"
      type   = "US_SOCIAL_SECURITY_NUMBER"
    }

    pii_entities_config {
      action = "ANONYMIZE"
      type   = "EMAIL"
    }

    pii_entities_config {
      action = "ANONYMIZE"
      type   = "PHONE"
    }

    pii_entities_config {
      action = "ANONYMIZE"
      type   = "NAME"
    }
  }

  contextual_grounding_policy_config {
    filters_config {
      threshold = 0.75
      type      = "GROUNDING"
    }

    filters_config {
      threshold = 0.75
      type      = "RELEVANCE"
    }
  }
}

resource "aws_bedrock_guardrail_version" "guardrail_version" {
  guardrail_arn = aws_bedrock_guardrail.guardrail.guardrail_arn
}

output "guardrail_id" {
  value = aws_bedrock_guardrail.guardrail.id
}

output "guardrail_version_id" {
  value = aws_bedrock_guardrail_version.guardrail_version.id
}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}
