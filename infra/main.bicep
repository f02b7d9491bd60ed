// Qlaw on Azure: the Qlaw.Functions host on Flex Consumption, its storage account (also the Durable Task hub),
// PostgreSQL Flexible Server with the database `qlaw`, and Application Insights over Log Analytics.
// Deploy into a resource group: see ../docs/operations.md, "Deploy to Azure".

@description('Prefix of every resource name (lowercase letters, digits, hyphens); a hash of the resource group makes the names unique.')
@minLength(3)
@maxLength(12)
param name string = 'qlaw'

@description('Region of every resource; Flex Consumption is offered in a subset of regions.')
param location string = resourceGroup().location

@description('Administrator login of the PostgreSQL server (not admin, root, azure_superuser…, no pg_ prefix).')
param postgresAdminLogin string = 'qlawadmin'

@description('Administrator password of the PostgreSQL server; Qlaw connects with it.')
@secure()
@minLength(8)
param postgresAdminPassword string

@description('PostgreSQL compute: a Burstable B1ms is enough for a trial; use GeneralPurpose for production.')
param postgresSkuName string = 'Standard_B1ms'

@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param postgresSkuTier string = 'Burstable'

@allowed(['15', '16', '17'])
param postgresVersion string = '16'

@minValue(32)
param postgresStorageSizeGB int = 32

@description('Your public IPv4 address, allowed through the PostgreSQL firewall to apply migrations; empty: none.')
param clientIpAddress string = ''

@description('Models:OpenAI:BaseUrl, the OpenAI-compatible endpoint when a workflow names none; empty: OpenAI.')
param openAIBaseUrl string = ''

@description('Models:OpenAI:ApiKey; empty: only the scripted model works (or set OPENAI_API_KEY later).')
@secure()
param openAIApiKey string = ''

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

param tags object = {
  application: 'qlaw'
}

var suffix = uniqueString(resourceGroup().id, name)
var storageAccountName = take(toLower('${replace(name, '-', '')}${suffix}'), 24)
var appName = '${name}-func-${suffix}'

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
    clientIpAddress: clientIpAddress
    tags: tags
  }
}

// Npgsql syntax; the password is quoted (a doubled quote stands for one) so that any character in it is safe.
var postgresConnectionString = 'Host=${postgres.outputs.host};Database=${postgres.outputs.databaseName};Username=${postgresAdminLogin};Password="${replace(postgresAdminPassword, '"', '""')}";Ssl Mode=Require'

// Qlaw's own settings; migrations run once per release from an operator's machine, never at start-up.
var qlawSettings = union(
  {
    ConnectionStrings__Postgres: postgresConnectionString
    Database__MigrateOnStartup: 'false'
  },
  // Empty model settings are left out: an empty BaseUrl is not a valid URL to Qlaw's settings check.
  empty(openAIBaseUrl) ? {} : { Models__OpenAI__BaseUrl: openAIBaseUrl },
  empty(openAIApiKey) ? {} : { Models__OpenAI__ApiKey: openAIApiKey }
)

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    planName: '${name}-plan-${suffix}'
    appName: appName
    storageAccountName: storage.outputs.accountName
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    applicationInsightsName: monitoring.outputs.componentName
    qlawSettings: qlawSettings
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    tags: tags
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output postgresHost string = postgres.outputs.host
output storageAccountName string = storage.outputs.accountName
