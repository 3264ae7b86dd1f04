// Imported before @apollo/gateway everywhere: the gateway's default OpenTelemetry "data collection" exporter probes
// cloud-metadata addresses and exports usage to Apollo. No traffic may leave the machine.
process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';

export function assertNoTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  if (env.APOLLO_TELEMETRY_DISABLED !== 'true') {
    throw new Error('APOLLO_TELEMETRY_DISABLED must be "true" wherever @apollo/gateway is constructed');
  }
  if (env.APOLLO_KEY) throw new Error('APOLLO_KEY must not be set: twtr reports nothing to Apollo');
}
