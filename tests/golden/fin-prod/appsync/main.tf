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

variable "api_name" {
  type        = string
  description = "Name of the AWS::AppSync::Api."
}

variable "api_cache_api_caching_behavior" {
  type        = string
  description = "ApiCachingBehavior of the AWS::AppSync::ApiCache."

  validation {
    condition     = contains(["FULL_REQUEST_CACHING", "OPERATION_LEVEL_CACHING", "PER_RESOLVER_CACHING"], var.api_cache_api_caching_behavior)
    error_message = "ApiCachingBehavior must be one of the values the AWS::AppSync::ApiCache schema allows."
  }
}

variable "api_cache_api_id" {
  type        = string
  description = "ApiId of the AWS::AppSync::ApiCache."
}

variable "api_cache_ttl" {
  type        = number
  description = "Ttl of the AWS::AppSync::ApiCache."
}

variable "api_cache_type" {
  type        = string
  description = "Type of the AWS::AppSync::ApiCache."

  validation {
    condition     = contains(["LARGE", "LARGE_12X", "LARGE_2X", "LARGE_4X", "LARGE_8X", "MEDIUM", "R4_2XLARGE", "R4_4XLARGE", "R4_8XLARGE", "R4_LARGE", "R4_XLARGE", "SMALL", "T2_MEDIUM", "T2_SMALL", "XLARGE"], var.api_cache_type)
    error_message = "Type must be one of the values the AWS::AppSync::ApiCache schema allows."
  }
}

variable "channel_namespace_api_id" {
  type        = string
  description = "ApiId of the AWS::AppSync::ChannelNamespace."
}

variable "channel_namespace_name" {
  type        = string
  description = "Name of the AWS::AppSync::ChannelNamespace."
}

variable "data_source_api_id" {
  type        = string
  description = "ApiId of the AWS::AppSync::DataSource."
}

variable "data_source_name" {
  type        = string
  description = "Name of the AWS::AppSync::DataSource."
}

variable "data_source_type" {
  type        = string
  description = "Type of the AWS::AppSync::DataSource."

  validation {
    condition     = contains(["AMAZON_BEDROCK_RUNTIME", "AMAZON_DYNAMODB", "AMAZON_ELASTICSEARCH", "AMAZON_EVENTBRIDGE", "AMAZON_OPENSEARCH_SERVICE", "AWS_LAMBDA", "HTTP", "NONE", "RELATIONAL_DATABASE"], var.data_source_type)
    error_message = "Type must be one of the values the AWS::AppSync::DataSource schema allows."
  }
}

variable "graph_ql_api_name" {
  type        = string
  description = "Name of the AWS::AppSync::GraphQLApi."
}

variable "type_api_id" {
  type        = string
  description = "ApiId of the AWS::AppSync::Type."
}

variable "type_definition" {
  type        = string
  description = "Definition of the AWS::AppSync::Type."
}

variable "type_format" {
  type        = string
  description = "Format of the AWS::AppSync::Type."

  validation {
    condition     = contains(["JSON", "SDL"], var.type_format)
    error_message = "Format must be one of the values the AWS::AppSync::Type schema allows."
  }
}

variable "data_classification" {
  type        = string
  description = "Classification of the data the resources hold (tag data-classification)."
  default     = "confidential"
}

resource "aws_appsync_api" "api" {
  name = var.api_name
  tags = {
    "data-classification" = var.data_classification
  }
}

resource "aws_appsync_api_cache" "api_cache" {
  api_caching_behavior       = var.api_cache_api_caching_behavior
  api_id                     = var.api_cache_api_id
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  ttl                        = var.api_cache_ttl
  type                       = var.api_cache_type
}

resource "aws_appsync_channel_namespace" "channel_namespace" {
  api_id = var.channel_namespace_api_id
  name   = var.channel_namespace_name
  tags = {
    "data-classification" = var.data_classification
  }
}

resource "aws_appsync_datasource" "data_source" {
  api_id = var.data_source_api_id
  name   = var.data_source_name
  type   = var.data_source_type
}

resource "aws_appsync_graphql_api" "graph_ql_api" {
  authentication_type = "AWS_IAM"
  name                = var.graph_ql_api_name
  tags = {
    "data-classification" = var.data_classification
  }
  xray_enabled = true
}

resource "aws_appsync_type" "type" {
  api_id     = var.type_api_id
  definition = var.type_definition
  format     = var.type_format
}

output "api_id" {
  value = aws_appsync_api.api.id
}

output "api_cache_id" {
  value = aws_appsync_api_cache.api_cache.id
}

output "channel_namespace_id" {
  value = aws_appsync_channel_namespace.channel_namespace.id
}

output "data_source_id" {
  value = aws_appsync_datasource.data_source.id
}

output "graph_ql_api_id" {
  value = aws_appsync_graphql_api.graph_ql_api.id
}

output "type_id" {
  value = aws_appsync_type.type.id
}
