# The control library (SECCFG_LIBRARY_URL=dynamodb://<table>): approved controls by
# (pk, sk), with global secondary indexes by service and by framework. Point-in-time
# recovery, SSE with the objects CMK, deletion protection per environment.

resource "aws_dynamodb_table" "library" {
  name                        = "${local.name}-library"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "service_id"
    type = "S"
  }
  attribute {
    name = "framework"
    type = "S"
  }

  global_secondary_index {
    name            = "by_service"
    hash_key        = "service_id"
    range_key       = "sk"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by_framework"
    hash_key        = "framework"
    range_key       = "sk"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this["objects"].arn
  }
}
