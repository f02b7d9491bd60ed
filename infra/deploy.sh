#!/usr/bin/env bash
# Deploys a release of Qlaw to one resource group, in order: infrastructure (with a what-if preview), migrations as the
# PostgreSQL administrator (which also creates the role holding Qlaw's privileges), the app's managed identity made a
# member of that role (as the server's Microsoft Entra administrator: you), then the Functions package. See
# docs/operations.md, "Deploy to Azure". Needs: az (logged in), the .NET SDK, zip.
#
#   QLAW_PG_PASSWORD=… QLAW_CLIENT_IP=<this machine's public IPv4> infra/deploy.sh <resource-group> [--what-if]
#
# --what-if shows what the deployment would change and stops. The firewall rule for QLAW_CLIENT_IP is removed again
# once the migrations are applied.
set -euo pipefail

group=${1:?usage: infra/deploy.sh <resource-group> [--what-if]}
root=$(cd "$(dirname "$0")/.." && pwd)
: "${QLAW_PG_PASSWORD:?set QLAW_PG_PASSWORD (PostgreSQL administrator)}"
: "${QLAW_CLIENT_IP:?set QLAW_CLIENT_IP (the public IPv4 of this machine, let in for the migrations)}"
admin=${QLAW_PG_ADMIN:-qlawadmin}   # postgresAdminLogin in main.bicepparam

# You become the server's Microsoft Entra administrator (main.bicepparam reads these), to give the app its role.
QLAW_ENTRA_ADMIN_ID=$(az ad signed-in-user show --query id --output tsv)
QLAW_ENTRA_ADMIN_NAME=$(az ad signed-in-user show --query userPrincipalName --output tsv)
export QLAW_ENTRA_ADMIN_ID QLAW_ENTRA_ADMIN_NAME

if [[ "${2:-}" == "--what-if" ]]; then
  az deployment group what-if --resource-group "$group" --name main \
    --template-file "$root/infra/main.bicep" --parameters "$root/infra/main.bicepparam"
  exit 0
fi

echo "1/3 Infrastructure"
az deployment group create --resource-group "$group" --name main \
  --template-file "$root/infra/main.bicep" --parameters "$root/infra/main.bicepparam" --output none
output() { az deployment group show --resource-group "$group" --name main --query "properties.outputs.$1.value" --output tsv; }
app=$(output functionAppName)
pg_host=$(output postgresHost)
app_role=$(output postgresAppRole)
app_identity=$(output functionAppPrincipalId)

echo "2/3 Migrations on $pg_host (as the administrator; creates or updates the role $app_role), and $app signs in as a member of it"
# This machine's firewall rule goes away again whatever happens next.
close_firewall() {
  az postgres flexible-server firewall-rule delete --resource-group "$group" --name "${pg_host%%.*}" \
    --rule-name AllowOperatorClient --yes --output none
}
trap close_firewall EXIT
dotnet publish "$root/Qlaw.Server" -c Release -o "$root/.local/publish/server" --nologo -v quiet
password=${QLAW_PG_PASSWORD//\"/\"\"}
# migrate touches PostgreSQL only; the Durable storage setting is required by the settings check but not used.
ConnectionStrings__Postgres="Host=$pg_host;Database=qlaw;Username=$admin;Password=\"$password\";Ssl Mode=VerifyFull;Application Name=qlaw-migrate" \
ConnectionStrings__DurableStorage="UseDevelopmentStorage=true" \
QLAW_APP_ROLE="$app_role" \
  dotnet "$root/.local/publish/server/Qlaw.Server.dll" migrate
# As the Entra administrator, with a token for its password: the app's identity gets its own role, a member of $app_role.
token=$(az account get-access-token --resource-type oss-rdbms --query accessToken --output tsv)
ConnectionStrings__Postgres="Host=$pg_host;Database=qlaw;Username=$QLAW_ENTRA_ADMIN_NAME;Password=$token;Ssl Mode=VerifyFull;Application Name=qlaw-migrate" \
ConnectionStrings__DurableStorage="UseDevelopmentStorage=true" \
QLAW_APP_ROLE="$app_role" QLAW_APP_IDENTITY="$app" QLAW_APP_IDENTITY_OBJECT_ID="$app_identity" \
  dotnet "$root/.local/publish/server/Qlaw.Server.dll" grant-identity
close_firewall
trap - EXIT

echo "3/3 Functions package to $app"
rm -rf "$root/.local/publish/functions" "$root/.local/publish/functions.zip"
dotnet publish "$root/Qlaw.Functions" -c Release -o "$root/.local/publish/functions" --nologo -v quiet
(cd "$root/.local/publish/functions" && zip -qr ../functions.zip .)
az functionapp deployment source config-zip --resource-group "$group" --name "$app" \
  --src "$root/.local/publish/functions.zip" --output none
echo "Deployed: https://$(output functionAppHostName)/v1/health/ready"
