// Example parameters: `az deployment group create -g <group> -f infra/main.bicep -p infra/main.bicepparam`.
// Secrets come from the environment of the machine that deploys, never from this file.
using './main.bicep'

param name = 'qlaw'
param postgresAdminLogin = 'qlawadmin'
param postgresAdminPassword = readEnvironmentVariable('QLAW_PG_PASSWORD')
param postgresAppRole = 'qlaw_app'
// The signed-in operator (the deploy script sets these from `az ad signed-in-user show`).
param postgresEntraAdministrator = {
  objectId: readEnvironmentVariable('QLAW_ENTRA_ADMIN_ID', '00000000-0000-0000-0000-000000000000')
  name: readEnvironmentVariable('QLAW_ENTRA_ADMIN_NAME', 'operator@example.com')
  type: 'User'
}
param clientIpAddress = readEnvironmentVariable('QLAW_CLIENT_IP', '')
param openAIBaseUrl = readEnvironmentVariable('QLAW_OPENAI_BASE_URL', '')
param openAIApiKey = readEnvironmentVariable('QLAW_OPENAI_API_KEY', '')
