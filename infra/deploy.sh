#!/usr/bin/env bash
# Deploys a release of Qlaw to one resource group, in order: infrastructure (with a what-if preview), migrations as the
# PostgreSQL administrator (which also creates the app's own role), then the Functions package. See
# docs/operations.md, "Deploy to Azure". Needs: az (logged in), the .NET SDK, zip.
#
#   QLAW_PG_PASSWORD=… QLAW_PG_APP_PASSWORD=… QLAW_CLIENT_IP=<this machine's public IPv4> \
#     infra/deploy.sh <resource-group> [--what-if]
#
# --what-if shows what the deployment would change and stops. The firewall rule for QLAW_CLIENT_IP is removed again
# once the migrations are applied.
set -euo pipefail

group=${1:?usage: infra/deploy.sh <resource-group> [--what-if]}
root=$(cd "$(dirname "$0")/.." && pwd)
: "${QLAW_PG_PASSWORD:?set QLAW_PG_PASSWORD (PostgreSQL administrator)}"
: "${QLAW_PG_APP_PASSWORD:?set QLAW_PG_APP_PASSWORD (the app role qlaw_app)}"
: "${QLAW_CLIENT_IP:?set QLAW_CLIENT_IP (the public IPv4 of this machine, let in for the migrations)}"
admin=${QLAW_PG_ADMIN:-qlawadmin}   # postgresAdminLogin in main.bicepparam

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
app_login=$(output postgresAppLogin)

echo "2/3 Migrations on $pg_host (as the administrator; creates or updates the role $app_login)"
# This machine's firewall rule goes away again whatever happens next.
close_firewall() {
  az postgres flexible-server firewall-rule delete --resource-group "$group" --name "${pg_host%%.*}" \
    --rule-name AllowOperatorClient --yes --output none
}
trap close_firewall EXIT
dotnet publish "$root/Qlaw.Server" -c Release -o "$root/.local/publish/server" --nologo -v quiet
password=${QLAW_PG_PASSWORD//\"/\"\"}
# migrate touches PostgreSQL only; the Durable storage setting is required by the settings check but not used.
ConnectionStrings__Postgres="Host=$pg_host;Database=qlaw;Username=$admin;Password=\"$password\";Ssl Mode=Require;Application Name=qlaw-migrate" \
ConnectionStrings__DurableStorage="UseDevelopmentStorage=true" \
QLAW_APP_ROLE="$app_login" QLAW_APP_ROLE_PASSWORD="$QLAW_PG_APP_PASSWORD" \
  dotnet "$root/.local/publish/server/Qlaw.Server.dll" migrate
close_firewall
trap - EXIT

echo "3/3 Functions package to $app"
rm -rf "$root/.local/publish/functions" "$root/.local/publish/functions.zip"
dotnet publish "$root/Qlaw.Functions" -c Release -o "$root/.local/publish/functions" --nologo -v quiet
(cd "$root/.local/publish/functions" && zip -qr ../functions.zip .)
az functionapp deployment source config-zip --resource-group "$group" --name "$app" \
  --src "$root/.local/publish/functions.zip" --output none
echo "Deployed: https://$(output functionAppHostName)/v1/health/ready"
