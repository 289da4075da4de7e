import './base.css';
import './launch.css';
