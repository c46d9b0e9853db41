output "url" {
  description = "HTTPS endpoint of the service (point a DNS name with the certificate's name at it)."
  value       = "https://${aws_lb.this.dns_name}"
}

output "cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "ECS service (docs/RUNBOOK.md: deploy and roll back)."
  value       = aws_ecs_service.this.name
}

output "task_role_arn" {
  description = "Role the seccfg tasks run with."
  value       = aws_iam_role.task.arn
}

output "artifact_bucket" {
  description = "Artifact bucket (SECCFG_ARTIFACT_URL=s3://<bucket>/artifacts)."
  value       = aws_s3_bucket.artifacts.id
}

output "library_table" {
  description = "DynamoDB control library table (SECCFG_LIBRARY_URL=dynamodb://<table>)."
  value       = aws_dynamodb_table.library.name
}

output "db_endpoint" {
  description = "PostgreSQL endpoint."
  value       = aws_db_instance.this.address
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret holding the RDS-managed master password."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "backup_vault" {
  description = "AWS Backup vault (docs/RUNBOOK.md: restore from backup)."
  value       = aws_backup_vault.this.name
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "kms_key_arns" {
  description = "Customer managed keys by purpose."
  value       = { for k, v in aws_kms_key.this : k => v.arn }
}

output "migrate_task_definition" {
  description = "One-off task that applies migrations as the migration owner (docs/RUNBOOK.md: database users)."
  value       = aws_ecs_task_definition.migrate.arn
}

output "db_app_user" {
  description = "PostgreSQL user the service logs in as with RDS IAM tokens (create it once: docs/RUNBOOK.md)."
  value       = var.db_app_user
}
