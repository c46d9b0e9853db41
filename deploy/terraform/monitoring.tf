# CloudWatch alarms mirroring deploy/prometheus/alerts.yaml, plus network security
# alarms on the flow-log metric filters. All notify an SNS topic encrypted with the
# logs CMK. seccfg_* metrics come from the collector sidecar (namespace Seccfg/<env>).

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.this["logs"].arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
  seccfg_ns     = "Seccfg/${var.environment}"
}

# SeccfgInstanceDown: no healthy task behind the load balancer.
resource "aws_cloudwatch_metric_alarm" "instance_down" {
  alarm_name          = "${local.name}-instance-down"
  alarm_description   = "No healthy seccfg task behind the load balancer (mirrors SeccfgInstanceDown). docs/RUNBOOK.md#instance-down"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  dimensions = {
    LoadBalancer = aws_lb.this.arn_suffix
    TargetGroup  = aws_lb_target_group.this.arn_suffix
  }
  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
}

# SeccfgApiErrorRate: more than 5% of requests answered 5xx by the tasks.
resource "aws_cloudwatch_metric_alarm" "api_error_rate" {
  alarm_name          = "${local.name}-api-error-rate"
  alarm_description   = "More than 5% of API requests answer 5xx (mirrors SeccfgApiErrorRate). docs/RUNBOOK.md#api-errors"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 5
  evaluation_periods  = 10
  datapoints_to_alarm = 10
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "ratio"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    label       = "5xx percent"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      stat        = "Sum"
      period      = 60
      dimensions  = { LoadBalancer = aws_lb.this.arn_suffix }
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      stat        = "Sum"
      period      = 60
      dimensions  = { LoadBalancer = aws_lb.this.arn_suffix }
    }
  }
}

# SeccfgQueueStalled: the oldest queued stage has waited too long.
resource "aws_cloudwatch_metric_alarm" "queue_stalled" {
  alarm_name          = "${local.name}-queue-stalled"
  alarm_description   = "The oldest queued stage has waited more than ${var.queue_age_alarm_minutes} minutes (mirrors SeccfgQueueStalled). docs/RUNBOOK.md#stuck-or-failed-runs"
  namespace           = local.seccfg_ns
  metric_name         = "seccfg_queue_oldest_age_seconds"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.queue_age_alarm_minutes * 60
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# SeccfgNoWorkersClaiming: work is queued, nothing is claimed.
resource "aws_cloudwatch_metric_alarm" "no_workers_claiming" {
  alarm_name          = "${local.name}-no-workers-claiming"
  alarm_description   = "Stages are queued but no worker has claimed one for 10 minutes (mirrors SeccfgNoWorkersClaiming). docs/RUNBOOK.md#stuck-or-failed-runs"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 10
  datapoints_to_alarm = 10
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "stalled"
    expression  = "IF(depth > 0 AND age > 120 AND claims == 0, 1, 0)"
    label       = "queued and unclaimed"
    return_data = true
  }
  metric_query {
    id = "depth"
    metric {
      namespace   = local.seccfg_ns
      metric_name = "seccfg_queue_depth"
      stat        = "Maximum"
      period      = 60
    }
  }
  metric_query {
    id = "age"
    metric {
      namespace   = local.seccfg_ns
      metric_name = "seccfg_queue_oldest_age_seconds"
      stat        = "Maximum"
      period      = 60
    }
  }
  metric_query {
    id = "claims"
    metric {
      namespace   = local.seccfg_ns
      metric_name = "seccfg_stage_claims_total"
      stat        = "Sum"
      period      = 60
    }
  }
}

# SeccfgStageFailureRatio: more than 10% of stage attempts fail their run.
resource "aws_cloudwatch_metric_alarm" "stage_failure_ratio" {
  alarm_name          = "${local.name}-stage-failure-ratio"
  alarm_description   = "More than 10% of stage attempts fail their run (mirrors SeccfgStageFailureRatio). docs/RUNBOOK.md#stuck-or-failed-runs"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 10
  evaluation_periods  = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  metric_query {
    id          = "ratio"
    expression  = "IF(claims > 0, 100 * failures / claims, 0)"
    label       = "failed percent"
    return_data = true
  }
  metric_query {
    id = "failures"
    metric {
      namespace   = local.seccfg_ns
      metric_name = "seccfg_stage_failures_total"
      stat        = "Sum"
      period      = 300
    }
  }
  metric_query {
    id = "claims"
    metric {
      namespace   = local.seccfg_ns
      metric_name = "seccfg_stage_claims_total"
      stat        = "Sum"
      period      = 300
    }
  }
}

# SeccfgLeaseExpiryStorm.
resource "aws_cloudwatch_metric_alarm" "lease_expiries" {
  alarm_name          = "${local.name}-lease-expiry-storm"
  alarm_description   = "More than 10 stage leases expired in 10 minutes (mirrors SeccfgLeaseExpiryStorm). docs/RUNBOOK.md#lease-expiry-storms"
  namespace           = local.seccfg_ns
  metric_name         = "seccfg_lease_expiries_total"
  statistic           = "Sum"
  period              = 600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 10
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

# Database health.
resource "aws_cloudwatch_metric_alarm" "db_cpu" {
  alarm_name          = "${local.name}-db-cpu"
  alarm_description   = "Database CPU above 80% for 15 minutes. docs/RUNBOOK.md#database-failover"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "db_storage" {
  alarm_name          = "${local.name}-db-free-storage"
  alarm_description   = "Database free storage under 10 GiB. docs/RUNBOOK.md#database-failover"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 10737418240
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  alarm_actions       = local.alarm_actions
}

# Network security alarms on the flow-log metric filters.
resource "aws_cloudwatch_metric_alarm" "flow_logs" {
  for_each            = { rejected-packets = 1000, remote-admin-ports = 0, database-rejected = 0 }
  alarm_name          = "${local.name}-flow-${each.key}"
  alarm_description   = "VPC flow logs: ${each.key} above ${each.value} in 5 minutes."
  namespace           = "Seccfg/${var.environment}/Network"
  metric_name         = "FlowLogs-${each.key}"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  depends_on          = [aws_cloudwatch_log_metric_filter.flow_logs]
}

# A CloudWatch dashboard with the same headline numbers as deploy/grafana/seccfg.json.
resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${local.name}-overview"
  dashboard_body = jsonencode({
    widgets = [
      for i, w in [
        ["Requests", "AWS/ApplicationELB", "RequestCount", { LoadBalancer = aws_lb.this.arn_suffix }, "Sum"],
        ["5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", { LoadBalancer = aws_lb.this.arn_suffix }, "Sum"],
        ["Latency p99", "AWS/ApplicationELB", "TargetResponseTime", { LoadBalancer = aws_lb.this.arn_suffix }, "p99"],
        ["Queue depth", local.seccfg_ns, "seccfg_queue_depth", {}, "Maximum"],
        ["Oldest queued (s)", local.seccfg_ns, "seccfg_queue_oldest_age_seconds", {}, "Maximum"],
        ["Stage failures", local.seccfg_ns, "seccfg_stage_failures_total", {}, "Sum"],
        ["Lease expiries", local.seccfg_ns, "seccfg_lease_expiries_total", {}, "Sum"],
        ["DB CPU", "AWS/RDS", "CPUUtilization", { DBInstanceIdentifier = aws_db_instance.this.identifier }, "Average"],
        ] : {
        type   = "metric"
        x      = (i % 3) * 8
        y      = floor(i / 3) * 6
        width  = 8
        height = 6
        properties = {
          title   = w[0]
          region  = var.region
          stat    = w[4]
          period  = 60
          metrics = [concat([w[1], w[2]], flatten([for k, v in w[3] : [k, v]]))]
        }
      }
    ]
  })
}
