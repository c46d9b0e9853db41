resource "aws_config_config_rule" "appsync_d03" {
  input_parameters = "{\"tag1Key\":\"data-classification\"}"
  name             = "seccfg-appsync-d03"

  source {
    owner             = "AWS"
    source_identifier = "REQUIRED_TAGS"
  }
}
