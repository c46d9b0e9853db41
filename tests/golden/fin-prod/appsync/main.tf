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
