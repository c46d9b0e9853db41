# ECS/Fargate: the seccfg container (non-root, read-only root filesystem, health
# check by `seccfg healthcheck`) and an ADOT collector sidecar that scrapes /metrics
# into CloudWatch (namespace Seccfg/<env>, for the alarms and queue-depth scaling)
# and forwards OTLP traces to X-Ray. Tasks run in private subnets without public IPs.

resource "aws_ecs_cluster" "this" {
  name = "${local.name}-cluster"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/${var.name}/${var.environment}/app"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this["logs"].arn
}

resource "aws_cloudwatch_log_group" "metrics" {
  name              = "/${var.name}/${var.environment}/metrics"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this["logs"].arn
}

resource "aws_security_group" "tasks" {
  name        = "${local.name}-tasks"
  description = "seccfg tasks: 8080 from the load balancer; out to endpoints and the database"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${local.name}-tasks" }
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "HTTP from the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_endpoints" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "HTTPS to interface endpoints"
  referenced_security_group_id = aws_security_group.endpoints.id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_gateways" {
  for_each          = aws_vpc_endpoint.gateway
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to the ${each.key} gateway endpoint"
  prefix_list_id    = each.value.prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_db" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "PostgreSQL"
  referenced_security_group_id = aws_security_group.db.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

locals {
  image_parts   = regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([^@]+)@", var.image)
  sidecar_parts = regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([^@]+)@", var.metrics_sidecar_image)
  ecr_repositories = distinct([
    "arn:${local.partition}:ecr:${local.image_parts[1]}:${local.image_parts[0]}:repository/${local.image_parts[2]}",
    "arn:${local.partition}:ecr:${local.sidecar_parts[1]}:${local.sidecar_parts[0]}:repository/${local.sidecar_parts[2]}",
  ])
  collector_config = yamlencode({
    receivers = {
      prometheus = { config = { scrape_configs = [{
        job_name        = "seccfg"
        scrape_interval = "30s"
        static_configs  = [{ targets = ["localhost:8080"] }]
      }] } }
      otlp = { protocols = { http = { endpoint = "localhost:4318" } } }
    }
    processors = { batch = {} }
    exporters = {
      awsemf = {
        namespace               = "Seccfg/${var.environment}"
        log_group_name          = aws_cloudwatch_log_group.metrics.name
        dimension_rollup_option = "NoDimensionRollup"
        metric_declarations = [{
          dimensions = [[]]
          metric_name_selectors = [
            "^seccfg_queue_depth$", "^seccfg_queue_oldest_age_seconds$", "^seccfg_stages_running$",
            "^seccfg_stage_claims_total$", "^seccfg_stage_failures_total$", "^seccfg_stage_retries_total$",
            "^seccfg_lease_expiries_total$", "^seccfg_advisor_tokens_total$",
          ]
        }]
      }
      awsxray = {}
    }
    service = { pipelines = {
      metrics = { receivers = ["prometheus"], processors = ["batch"], exporters = ["awsemf"] }
      traces  = { receivers = ["otlp"], processors = ["batch"], exporters = ["awsxray"] }
    } }
  })
  environment = concat([
    { name = "SECCFG_BIND", value = "0.0.0.0:8080" },
    { name = "SECCFG_WORKERS", value = tostring(var.workers_per_task) },
    { name = "SECCFG_AUTH", value = "required" },
    { name = "SECCFG_DATABASE_URL", value = "postgres://${var.db_app_user}@${aws_db_instance.this.address}:5432/seccfg?${local.db_tls}" },
    { name = "SECCFG_DATABASE_IAM_AUTH", value = "true" },
    { name = "SECCFG_MIGRATE", value = "false" },
    { name = "AWS_REGION", value = var.region },
    { name = "SECCFG_ARTIFACT_URL", value = "s3://${aws_s3_bucket.artifacts.id}/artifacts" },
    { name = "SECCFG_ARTIFACT_KMS_KEY_ID", value = aws_kms_key.this["objects"].arn },
    { name = "SECCFG_LIBRARY_URL", value = "dynamodb://${aws_dynamodb_table.library.name}" },
    { name = "OTEL_EXPORTER_OTLP_ENDPOINT", value = "http://localhost:4318" },
    { name = "OTEL_SERVICE_NAME", value = var.name },
    { name = "OTEL_RESOURCE_ATTRIBUTES", value = "deployment.environment.name=${var.environment}" },
    ], length(var.bedrock_model_ids) > 0 ? [{ name = "SECCFG_BEDROCK_MODEL_ID", value = var.bedrock_model_ids[0] }] : [],
    length(var.intake_bucket_names) > 0 ? [{ name = "SECCFG_INTAKE_BUCKETS", value = join(",", var.intake_bucket_names) }] : [],
  )
  # TLS to RDS verified against the RDS root CAs baked into the image (deploy/certs/).
  db_tls = "sslmode=verify-full&sslrootcert=/app/certs/rds-ca-g1.pem"

}

resource "aws_ecs_task_definition" "this" {
  family                   = "${local.name}-task"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = "seccfg"
      image                  = var.image
      essential              = true
      user                   = "65532:65532"
      readonlyRootFilesystem = true
      privileged             = false
      portMappings           = [{ containerPort = 8080, protocol = "tcp" }]
      environment            = local.environment
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      stopTimeout            = 60
      linuxParameters        = { initProcessEnabled = true, capabilities = { drop = ["ALL"] } }
      healthCheck = {
        command     = ["CMD", "/usr/local/bin/seccfg", "healthcheck"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 15
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.app.name
          awslogs-region        = var.region
          awslogs-stream-prefix = "seccfg"
        }
      }
    },
    {
      name                   = "collector"
      image                  = var.metrics_sidecar_image
      essential              = false
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      privileged             = false
      environment            = [{ name = "AOT_CONFIG_CONTENT", value = local.collector_config }]
      linuxParameters        = { initProcessEnabled = true, capabilities = { drop = ["ALL"] } }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.app.name
          awslogs-region        = var.region
          awslogs-stream-prefix = "collector"
        }
      }
    },
  ])
}

# The one-off migration task (docs/RUNBOOK.md, "Database users"): the same image as the
# migration owner (the master user, password from its managed secret), run before a
# release that adds migrations. It calls no AWS API, so it has no task role.
resource "aws_ecs_task_definition" "migrate" {
  family                   = "${local.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.migrate_execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "migrate"
    image                  = var.image
    essential              = true
    command                = ["migrate"]
    user                   = "65532:65532"
    readonlyRootFilesystem = true
    privileged             = false
    environment = [
      { name = "SECCFG_DATABASE_URL", value = "postgres://${aws_db_instance.this.username}@${aws_db_instance.this.address}:5432/seccfg?${local.db_tls}" },
    ]
    secrets = [{
      name      = "PGPASSWORD"
      valueFrom = "${aws_db_instance.this.master_user_secret[0].secret_arn}:password::"
    }]
    linuxParameters = { initProcessEnabled = true, capabilities = { drop = ["ALL"] } }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.app.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "migrate"
      }
    }
  }])
}

resource "aws_ecs_service" "this" {
  name                               = "${local.name}-service"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.min_tasks
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  health_check_grace_period_seconds  = 30
  propagate_tags                     = "SERVICE"
  enable_execute_command             = false
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = "seccfg"
    container_port   = 8080
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

# --- Autoscaling: CPU and queue depth -----------------------------------------------------

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${local.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = 60
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# Queued stages per running task, from the collector's CloudWatch metrics.
resource "aws_appautoscaling_policy" "queue_depth" {
  name               = "${local.name}-queue-depth"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.scale_out_queue_depth
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    customized_metric_specification {
      metrics {
        id          = "depth"
        return_data = false
        metric_stat {
          stat = "Maximum"
          metric {
            namespace   = "Seccfg/${var.environment}"
            metric_name = "seccfg_queue_depth"
          }
        }
      }
      metrics {
        id          = "tasks"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.this.name
            }
          }
        }
      }
      metrics {
        id          = "per_task"
        expression  = "IF(tasks > 0, depth / tasks, depth)"
        label       = "queued stages per task"
        return_data = true
      }
    }
  }
}
