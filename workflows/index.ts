export { mailOutageIncident } from './incident';
