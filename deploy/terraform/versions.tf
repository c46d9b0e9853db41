# Pinned Terraform and AWS provider versions. The provider version is the one whose
# resource schema is in data/terraform.json, against which tests/deploy.rs checks
# every resource type and argument used here.
terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 6.25.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# A closed set of zones (a, b, c of the region): a zone AWS adds later never moves subnets.
data "aws_availability_zones" "available" {
  state = "available"
  filter {
    name   = "zone-name"
    values = [for suffix in ["a", "b", "c"] : "${var.region}${suffix}"]
  }
}

locals {
  # Every name carries the environment suffix.
  name       = "${var.name}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  is_prod    = var.environment == "prod"
  azs        = slice(data.aws_availability_zones.available.names, 0, var.az_count)
  tags = merge(var.tags, {
    Application = var.name
    Environment = var.environment
    ManagedBy   = "terraform"
  })
}
