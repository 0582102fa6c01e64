"""The online feature store's DynamoDB table: gold `customer_features` by `customer_id`.

On-demand capacity, encrypted with the stack's customer-managed KMS key, point-in-time recovery on,
TTL on `expires_at` (customers who left the feature set are no longer rewritten and expire). The key
schema comes from `jobs.online.dynamodb_store`, the code that writes the table. The Glue job role may
write it; the AppDeveloper role may only read it (infra/iam.py).
"""

from __future__ import annotations

from infra.cfn import Json, resource
from infra.settings import DeploySettings
from infra.storage import BootstrapOutputs, retention_attributes
from jobs.online.dynamodb_store import TTL_ATTRIBUTE, table_definition

ONLINE_TABLE_ID = "OnlineFeaturesTable"


def online_table(settings: DeploySettings, bootstrap: BootstrapOutputs) -> Json:
    definition = table_definition(settings.online_table)
    return resource("AWS::DynamoDB::Table", {
        **definition,
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": bootstrap.kms_key_arn},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
    }, **retention_attributes(settings))
