// Example parameters: `az deployment group create -g <group> -f infra/main.bicep -p infra/main.bicepparam`.
// Secrets come from the environment of the machine that deploys, never from this file.
using './main.bicep'

param name = 'qlaw'
param postgresAdminLogin = 'qlawadmin'
param postgresAdminPassword = readEnvironmentVariable('QLAW_PG_PASSWORD')
param postgresAppLogin = 'qlaw_app'
param postgresAppPassword = readEnvironmentVariable('QLAW_PG_APP_PASSWORD')
param clientIpAddress = readEnvironmentVariable('QLAW_CLIENT_IP', '')
param openAIBaseUrl = readEnvironmentVariable('QLAW_OPENAI_BASE_URL', '')
param openAIApiKey = readEnvironmentVariable('QLAW_OPENAI_API_KEY', '')
