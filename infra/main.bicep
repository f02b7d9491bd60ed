// Qlaw on Azure: the Qlaw.Functions host on Flex Consumption, its storage account (also the Durable Task hub),
// PostgreSQL Flexible Server with the database `qlaw`, Key Vault for the app's secrets, a NAT gateway giving the app
// one outbound address, and Application Insights over Log Analytics.
// Deploy into a resource group: see ../docs/operations.md, "Deploy to Azure".

@description('Prefix of every resource name (lowercase letters, digits, hyphens); a hash of the resource group makes the names unique.')
@minLength(3)
@maxLength(12)
param name string = 'qlaw'

@description('Region of every resource; Flex Consumption is offered in a subset of regions.')
param location string = resourceGroup().location

@description('Administrator login of the PostgreSQL server (not admin, root, azure_superuser…, no pg_ prefix); used by the migrate step only.')
param postgresAdminLogin string = 'qlawadmin'

@description('Administrator password of the PostgreSQL server; the app never uses it.')
@secure()
@minLength(8)
param postgresAdminPassword string

@description('The role that holds what Qlaw may do (rows only, no DDL): created by the migrate step (QLAW_APP_ROLE); the app\'s managed identity is made a member of it.')
param postgresAppRole string = 'qlaw_app'

@description('The Microsoft Entra administrator of the PostgreSQL server, who gives the app\'s managed identity its role (the deploy script\'s grant step): { objectId, name, type: User | Group | ServicePrincipal }. The deploy script passes the signed-in user.')
param postgresEntraAdministrator object

@description('PostgreSQL compute. B1ms allows 35 user connections, too few for 40 instances; B2s allows 414.')
param postgresSkuName string = 'Standard_B2s'

@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param postgresSkuTier string = 'Burstable'

@description('max_connections of postgresSkuName (Azure\'s table "Maximum connections": B1ms 50, B2s 429, B2ms and D2s 859, D4s 1718); Azure keeps 15 of them.')
@minValue(25)
param postgresMaxConnections int = 429

@description('Connections kept free for the migrate step, psql and other tools, beside the app\'s pools.')
@minValue(3)
param postgresOperatorConnections int = 10

@allowed(['15', '16', '17'])
param postgresVersion string = '16'

@minValue(32)
param postgresStorageSizeGB int = 32

@description('Your public IPv4 address, let through the PostgreSQL firewall for the migrate step; empty: none.')
param clientIpAddress string = ''

@description('Further ranges let through the PostgreSQL firewall (a CI runner…): [{ name, startIpAddress, endIpAddress }].')
param postgresAllowedIpRanges array = []

@description('Models:OpenAI:BaseUrl, the OpenAI-compatible endpoint when a workflow names none; empty: OpenAI.')
param openAIBaseUrl string = ''

@description('Models:OpenAI:ApiKey, kept in Key Vault; empty: only the scripted model works.')
@secure()
param openAIApiKey string = ''

@description('The recovery timer (NCRONTAB, seconds first). Minutes apart lets the app scale to zero; a run the hub lost waits up to this long.')
param recoverySchedule string = '0 */5 * * * *'

@description('Most instances Flex Consumption runs at once; every one may hold a full PostgreSQL pool (see maxPoolSize).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

param tags object = {
  application: 'qlaw'
}

var suffix = uniqueString(resourceGroup().id, name)
var storageAccountName = take(toLower('${replace(name, '-', '')}${suffix}'), 24)
var appName = '${name}-func-${suffix}'
var vaultName = take('${name}-kv-${suffix}', 24)

// The connection budget. Each instance's pool holds its LISTEN connection and its queries, so an instance uses at
// most Max Pool Size connections; at maximumInstanceCount instances they must fit in what Azure leaves to users
// (max_connections - 15) minus what operators keep. B2s at 40 instances: (429 - 15 - 10) / 40 = 10 per instance.
// Derived, never given: its minimum is the guard — a deployment whose budget leaves an instance fewer than 2
// connections (its LISTEN and one for queries) is refused before anything is created.
@description('Derived from the parameters above; do not set it. Connections of each instance\'s pool.')
@minValue(2)
param maxPoolSize int = (postgresMaxConnections - 15 - postgresOperatorConnections) / maximumInstanceCount

// The hub's control-queue partitions bound how many instances run orchestrations at once: as many as the instances,
// up to the provider's 16. Fixed when the hub is created: raising it later takes a new hub name.
var hubPartitionCount = min(16, maximumInstanceCount)

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    workspaceName: '${name}-logs-${suffix}'
    componentName: '${name}-ai-${suffix}'
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    accountName: storageAccountName
    deploymentContainerName: 'app-package'
    tags: tags
  }
}

module network 'modules/network.bicep' = {
  name: 'network'
  params: {
    location: location
    name: '${name}-${suffix}'
    tags: tags
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  params: {
    location: location
    serverName: '${name}-pg-${suffix}'
    administratorLogin: postgresAdminLogin
    administratorPassword: postgresAdminPassword
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    version: postgresVersion
    storageSizeGB: postgresStorageSizeGB
    appOutboundIpAddress: network.outputs.outboundIpAddress
    entraAdministrator: postgresEntraAdministrator
    allowedIpRanges: concat(
      empty(clientIpAddress) ? [] : [{ name: 'AllowOperatorClient', startIpAddress: clientIpAddress, endIpAddress: clientIpAddress }],
      postgresAllowedIpRanges
    )
    tags: tags
  }
}

// Npgsql syntax, and no password: the app signs in as its managed identity (Microsoft Entra ID; the role named after
// the app), its token fetched and refreshed by Qlaw (Database__EntraAuthentication). VerifyFull: the server's
// certificate is checked against the system's CAs and its name. Keepalive: an idle connection (the LISTEN one above
// all) is probed every 30 s, so a socket a NAT or the server dropped is noticed and replaced. Application Name:
// pg_stat_activity tells Qlaw's sessions apart.
var postgresConnectionString = 'Host=${postgres.outputs.host};Database=${postgres.outputs.databaseName};Username=${appName};Ssl Mode=VerifyFull;Maximum Pool Size=${maxPoolSize};Keepalive=30;Application Name=qlaw-functions'

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    vaultName: vaultName
    secrets: {
      'openai-api-key': openAIApiKey
    }
    tags: tags
  }
}

// Qlaw's own settings. Secrets are Key Vault references, resolved by the platform with the app's identity.
// Migrations run once per release as a deployment step (the migrate command), never at start-up.
var qlawSettings = union(
  {
    ConnectionStrings__Postgres: postgresConnectionString
    Database__EntraAuthentication: 'true'
    Database__MigrateOnStartup: 'false'
    QLAW_RECOVERY_SCHEDULE: recoverySchedule
    AzureFunctionsJobHost__extensions__durableTask__storageProvider__partitionCount: string(hubPartitionCount)
  },
  // Empty model settings are left out: an empty BaseUrl is not a valid URL to Qlaw's settings check.
  empty(openAIBaseUrl) ? {} : { Models__OpenAI__BaseUrl: openAIBaseUrl },
  empty(openAIApiKey) ? {} : { Models__OpenAI__ApiKey: '@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName=openai-api-key)' }
)

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    planName: '${name}-plan-${suffix}'
    appName: appName
    storageAccountName: storage.outputs.accountName
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    queueEndpoint: storage.outputs.queueEndpoint
    applicationInsightsName: monitoring.outputs.componentName
    keyVaultName: keyVault.outputs.name
    subnetId: network.outputs.functionsSubnetId
    qlawSettings: qlawSettings
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    tags: tags
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output postgresHost string = postgres.outputs.host
output postgresAppRole string = postgresAppRole
output functionAppPrincipalId string = functionApp.outputs.principalId
output storageAccountName string = storage.outputs.accountName
output keyVaultName string = keyVault.outputs.name
output appOutboundIpAddress string = network.outputs.outboundIpAddress
output maxPoolSize int = maxPoolSize
output hubPartitionCount int = hubPartitionCount
