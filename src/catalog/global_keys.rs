//! AWS global condition context keys: valid in any request, whatever the service.
//! The registry sources carry only service-specific keys, so these identifiers are listed here.

/// Global keys; those ending in a tag or path segment are matched on the part before `/`.
pub const GLOBAL_CONDITION_KEYS: &[&str] = &[
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:FederatedProvider",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalTag",
    "aws:PrincipalType",
    "aws:RequestedRegion",
    "aws:RequestTag",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:ResourceTag",
    "aws:SecureTransport",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIdentity",
    "aws:SourceIp",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:TagKeys",
    "aws:TokenIssueTime",
    "aws:UserAgent",
    "aws:userid",
    "aws:username",
    "aws:ViaAWSService",
    "aws:VpcSourceIp",
    "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:RoleSessionName",
    "aws:Referer",
    "aws:SourceVpcArn",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
    "aws:IsMcpServiceAction",
];

/// Whether `key` is a global condition key (`aws:PrincipalTag/team` matches `aws:PrincipalTag`).
pub fn is_global_condition_key(key: &str) -> bool {
    let base = key.split('/').next().unwrap_or(key);
    GLOBAL_CONDITION_KEYS.iter().any(|g| g.eq_ignore_ascii_case(base))
}
