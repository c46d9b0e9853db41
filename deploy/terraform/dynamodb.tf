# The control library (SECCFG_LIBRARY_URL=dynamodb://<table>): the single-table key design of
# src/library/dynamodb.rs (PK, SK; GSI1 by service, GSI2 by framework — names and
# attributes must match that file, which creates the same table in tests). Point-in-time
# recovery, SSE with the objects CMK, deletion protection per environment.

resource "aws_dynamodb_table" "library" {
  name                        = "${local.name}-library"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "PK"
    type = "S"
  }
  attribute {
    name = "SK"
    type = "S"
  }
  attribute {
    name = "GSI1PK"
    type = "S"
  }
  attribute {
    name = "GSI1SK"
    type = "S"
  }
  attribute {
    name = "GSI2PK"
    type = "S"
  }
  attribute {
    name = "GSI2SK"
    type = "S"
  }

  global_secondary_index {
    name            = "by-service"
    hash_key        = "GSI1PK"
    range_key       = "GSI1SK"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by-framework"
    hash_key        = "GSI2PK"
    range_key       = "GSI2SK"
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
